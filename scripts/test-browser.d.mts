// Types of test-browser.mjs (plain JavaScript, so that scripts/test.mjs can import it on any Node).

export declare const DEBIAN_CHROMIUM: string;
export declare function chromiumPath(env?: NodeJS.ProcessEnv, debian?: string): string;
export declare function chromiumMissing(path: string): string;

export type Browser = { path: string; problem?: undefined } | { path?: undefined; problem: string };

export declare function ensureChromium(options?: {
  install?: boolean;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  apt?: { unavailable(): string | null; install(packages: string[]): string | null };
  debian?: string;
}): Browser;
