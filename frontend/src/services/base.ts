/** Where the API is: /api/ of the page's own origin (absolute, so that requests are valid
 * URLs outside a page too: the unit tests run in Node). */
export const BASE_URL = `${globalThis.location?.origin ?? 'http://localhost'}/api`
