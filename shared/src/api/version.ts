/**
 * The version of the application API (what applications import as `tributary`). A bundle records
 * the version it was built against; a node hosts a bundle built against the same major version
 * and a minor version no newer than its own (a newer minor may use what this node lacks).
 * Bump the minor when the API gains something, the major when it changes incompatibly.
 */
export const API_VERSION = '1.0.0';

/** Whether a host of API `host` can run a bundle built against API `bundle`. */
export function canHostApi(host: string, bundle: string): boolean {
  const [hMajor, hMinor] = host.split('.').map(Number);
  const [bMajor, bMinor] = bundle.split('.').map(Number);
  if (![hMajor, hMinor, bMajor, bMinor].every(Number.isInteger)) return false;
  return hMajor === bMajor && bMinor <= hMinor;
}
