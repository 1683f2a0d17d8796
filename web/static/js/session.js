// The admin's bearer token lives in sessionStorage: it survives a reload of this tab, not the tab.
const KEY = "wallet-analytics.token";

export function storedToken() {
  return sessionStorage.getItem(KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(KEY, token.trim());
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

// `make demo` prints /admin/#token=...: the fragment never reaches a server or a Referer.
// Take it, then drop it from the address bar and the history entry.
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return false;
  storeToken(token);
  history.replaceState(null, "", location.pathname + location.search);
  return true;
}
