// The headless browser the web dashboard test drives through playwright-core: Debian's chromium
// (playwright's own browser download needs hosts these machines cannot reach). scripts/test.mjs
// installs it when missing and this is root on Debian or Ubuntu, like PostgreSQL. Plain
// JavaScript for the same reason as apt-install.mjs. Types: test-browser.d.mts.
import { aptInstall, aptUnavailable } from './apt-install.mjs';
import { executable } from './executable.mjs';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** The browser to use: MITTELO_TEST_CHROMIUM when set (and only that), else Debian's. */
export const chromiumPath = (env = process.env, debian = DEBIAN_CHROMIUM) =>
  env.MITTELO_TEST_CHROMIUM || debian;

/** The one line the browser suite fails with when there is no browser at `path`. */
export const chromiumMissing = (path) =>
  `${path} is missing: install Debian's chromium (apt-get install -y chromium; \`npm test\` does it when ` +
  'run as root on Debian or Ubuntu), or set MITTELO_TEST_CHROMIUM to a Chromium or Chrome binary';

/**
 * The browser, installing Debian's chromium first when it is missing, `install` is true, this is
 * root on Debian or Ubuntu, and no MITTELO_TEST_CHROMIUM names another one. Answers { path } or
 * { problem } (one line). `log` gets one line before installing, saying what and why. `apt` and
 * `debian` (where Debian's package puts it) are for the tests of this function.
 */
export function ensureChromium({
  install = false,
  log = console.log,
  env = process.env,
  apt = { unavailable: aptUnavailable, install: aptInstall },
  debian = DEBIAN_CHROMIUM,
} = {}) {
  const path = chromiumPath(env, debian);
  if (executable(path)) return { path };
  if (!install || env.MITTELO_TEST_CHROMIUM) return { problem: chromiumMissing(path) };
  const unavailable = apt.unavailable();
  if (unavailable)
    return { problem: `${chromiumMissing(path)} (not installed by \`npm test\`: ${unavailable})` };
  log("== installing Debian's chromium (the web dashboard test drives it headless)");
  const failed = apt.install(['chromium']);
  if (failed) return { problem: `${failed}; ${chromiumMissing(path)}` };
  return executable(path) ? { path } : { problem: `apt-get installed chromium but ${chromiumMissing(path)}` };
}
