// RFC 9457 problems as the API answers them (shared/web/problems.py), turned into one error type.
import type { components } from '@/api/auth'

export type Problem = components['schemas']['Problem']
export type FieldError = components['schemas']['FieldError']

/** An answer that was not a success: the problem, its status, and Retry-After when given. */
export class ApiError extends Error {
  readonly status: number
  readonly problem: Problem | null
  readonly retryAfterSeconds: number | null

  constructor(status: number, problem: Problem | null, retryAfterSeconds: number | null) {
    super(problem?.detail ?? `The server answered ${status}.`)
    this.name = 'ApiError'
    this.status = status
    this.problem = problem
    this.retryAfterSeconds = retryAfterSeconds
  }

  get code(): string | null {
    return this.problem?.code ?? null
  }

  /** Messages per field name, from the problem's `errors` (e.g. `{password: "..."}`). */
  fieldErrors(): Record<string, string> {
    const fields: Record<string, string> = {}
    for (const error of this.problem?.errors ?? []) {
      fields[error.field] ??= error.message
    }
    return fields
  }
}

function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'status' in value && 'code' in value
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date); null when absent. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

/** The ApiError of a failed answer whose body has already been read. */
export function toApiError(response: Response, body: unknown): ApiError {
  return new ApiError(
    response.status,
    isProblem(body) ? body : null,
    parseRetryAfter(response.headers.get('Retry-After')),
  )
}
