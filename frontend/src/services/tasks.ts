// Tasks: the board's page of them, one task with its version, and conditional writes (If-Match).
import type { components } from '@/api/tasks'
import { asTimeZone } from './kpi'
import { ApiError } from './problem'
import { expectOk, tasksApi, unwrap, unwrapWithResponse } from './http'

export type Task = components['schemas']['TaskRead']
export type TaskStatus = components['schemas']['TaskStatus']
export type TaskCreate = components['schemas']['TaskCreate']
export type TaskUpdate = components['schemas']['TaskUpdate']
export type SortField = components['schemas']['SortField']
export type SortOrder = components['schemas']['SortOrder']

export const STATUSES: readonly TaskStatus[] = ['todo', 'in_progress', 'done']

export interface TaskFilters {
  status?: TaskStatus
  assignee_id?: number
  creator_id?: number
  year?: number
  month?: number
  tz?: string
  sort?: SortField
  order?: SortOrder
}

export interface TaskPage {
  items: Task[]
  nextCursor: string | null
}

export async function listTasks(filters: TaskFilters, cursor: string | null = null): Promise<TaskPage> {
  const query = {
    ...filters,
    tz: filters.tz ? asTimeZone(filters.tz) : undefined,
    page_size: 50,
    cursor: cursor ?? undefined,
  }
  const page = await unwrap(tasksApi.GET('/tasks/', { params: { query } }))
  return { items: page.items, nextCursor: page.next_cursor }
}

export function getTask(taskId: number): Promise<Task> {
  return unwrap(tasksApi.GET('/tasks/{task_id}', { params: { path: { task_id: taskId } } }))
}

export async function createTask(data: TaskCreate): Promise<Task> {
  const { data: task } = await unwrapWithResponse(tasksApi.POST('/tasks/', { body: data }))
  return task
}

/** The edit was refused (412): the task as the other person left it, and what they changed. */
export class EditConflict extends Error {
  readonly current: Task
  readonly theirChanges: (keyof Task)[]
  readonly mine: TaskUpdate

  constructor(base: Task, current: Task, mine: TaskUpdate) {
    super('Someone else changed this task.')
    this.name = 'EditConflict'
    this.current = current
    this.mine = mine
    this.theirChanges = changedFields(base, current)
  }
}

const EDITABLE: (keyof Task)[] = ['title', 'description', 'status', 'assignee_id', 'due_date']

/** The fields a user edits that differ between two versions of a task. */
export function changedFields(before: Task, after: Task): (keyof Task)[] {
  return EDITABLE.filter((field) => before[field] !== after[field])
}

function same(field: string, before: unknown, after: unknown): boolean {
  if (field === 'due_date' && typeof before === 'string' && typeof after === 'string') {
    return Date.parse(before) === Date.parse(after)
  }
  return before === after
}

/** Only what the user changed on `base`: a reapplied edit must not undo another's change. */
export function changesFrom(base: Task, fields: TaskUpdate): TaskUpdate {
  const changed = Object.entries(fields).filter(([field, value]) => !same(field, base[field as keyof Task], value))
  return Object.fromEntries(changed) as TaskUpdate
}

/** PATCH with If-Match on the version the user saw; a 412 becomes an EditConflict. */
export async function updateTask(base: Task, changes: TaskUpdate): Promise<Task> {
  try {
    return await unwrap(
      tasksApi.PATCH('/tasks/{task_id}', {
        params: { path: { task_id: base.id }, header: { 'If-Match': `"${base.version}"` } },
        body: changes,
      }),
    )
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) {
      throw new EditConflict(base, await getTask(base.id), changes)
    }
    throw error
  }
}

export async function deleteTask(task: Task): Promise<void> {
  await expectOk(
    tasksApi.DELETE('/tasks/{task_id}', {
      params: { path: { task_id: task.id }, header: { 'If-Match': `"${task.version}"` } },
    }),
  )
}
