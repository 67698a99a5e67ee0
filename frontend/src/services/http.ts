// The one place that talks to the API: openapi-fetch clients typed by the generated schemas,
// each request carrying the in-memory access token; a 401 refreshes it once and retries.
import createClient from 'openapi-fetch'
import type { paths as AuthPaths } from '@/api/auth'
import type { paths as KpiPaths } from '@/api/kpi'
import type { paths as LogsPaths } from '@/api/logs'
import type { paths as TasksPaths } from '@/api/tasks'
import { BASE_URL } from './base'
import { toApiError } from './problem'
import { currentAccessToken, refreshAccessToken } from './session'


function withToken(request: Request, token: string | null): Request {
  if (token) request.headers.set('Authorization', `Bearer ${token}`)
  return request
}

/** fetch with the bearer token; on a 401, one refresh (shared by all callers) and one retry. */
export async function authorizedFetch(input: Request): Promise<Response> {
  const retry = input.clone()
  const token = currentAccessToken()
  const response = await fetch(withToken(input, token))
  if (response.status !== 401 || input.url.includes('/auth/login')) return response
  const fresh = await refreshAccessToken()
  return fresh ? fetch(withToken(retry, fresh)) : response
}

export { BASE_URL }

const options = { baseUrl: BASE_URL, fetch: authorizedFetch }
export const authApi = createClient<AuthPaths>(options)
export const tasksApi = createClient<TasksPaths>(options)
export const logsApi = createClient<LogsPaths>(options)
export const kpiApi = createClient<KpiPaths>(options)

interface Result<T> {
  data?: T
  error?: unknown
  response: Response
}

/** The body of a successful answer; an ApiError (with the problem) otherwise. */
export async function unwrap<T>(pending: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await pending
  if (!response.ok || data === undefined) throw toApiError(response, error)
  return data
}

/** The answer itself, for callers that need its headers (ETag); ApiError when not a success. */
export async function unwrapWithResponse<T>(
  pending: Promise<Result<T>>,
): Promise<{ data: T; response: Response }> {
  const { data, error, response } = await pending
  if (!response.ok || data === undefined) throw toApiError(response, error)
  return { data, response }
}

/** For answers without a body (204). */
export async function expectOk(pending: Promise<Result<unknown>>): Promise<void> {
  const { error, response } = await pending
  if (!response.ok) throw toApiError(response, error)
}
