// Whether a program the tests need (initdb, postgres, chromium, setpriv) is there to run. Plain
// JavaScript for the same reason as apt-install.mjs: scripts/test.mjs imports it on any Node.
import { accessSync, constants } from 'node:fs';

/** Whether `path` exists and this process may execute it. */
export function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
