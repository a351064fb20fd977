// The hub's token for this tab only (sessionStorage): asked once, gone when the tab closes, and
// only ever sent in the Authorization header — never in a URL.
const KEY = 'mittelo.token';

/** Where storage is disabled the token lasts until the page reloads. */
let inMemory = '';

export function currentToken() {
  try {
    return sessionStorage.getItem(KEY) ?? inMemory;
  } catch {
    return inMemory;
  }
}

export function saveToken(token) {
  inMemory = token;
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // kept in memory only
  }
}

export function clearToken() {
  inMemory = '';
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing was stored
  }
}
