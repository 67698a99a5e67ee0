import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import type { LogEntry } from '@/services/activity'
import type { Task } from '@/services/tasks'
import { useBoardStore } from './board'
import { useFeedStore } from './feed'

function task(id: number, status: Task['status'] = 'todo'): Task {
  return {
    id, title: `task ${id}`, description: null, status, assignee_id: null, creator_id: 1, due_date: null,
    created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', completed_at: null, version: 1,
  }
}

function entry(id: number): LogEntry {
  return { id, task_id: 1, user_id: 1, action_type: 'task_created', detail: 'd', created_at: '2026-01-01T00:00:00Z' }
}

beforeEach(() => setActivePinia(createPinia()))

describe('board store', () => {
  it('groups by status, appends the next page once, and replaces or removes a task', () => {
    const board = useBoardStore()
    board.replace([task(1), task(2, 'done')], 'cursor-1')
    board.append([task(2, 'done'), task(3, 'in_progress')], null)
    board.put({ ...task(1), status: 'done', version: 2 })
    board.put(task(4))
    board.remove(3)

    expect(board.tasks.map((item) => item.id)).toEqual([4, 1, 2])
    expect(board.column('done').map((item) => item.id)).toEqual([1, 2])
    expect(board.column('in_progress')).toEqual([])
    expect(board.nextCursor).toBeNull()
  })
})

describe('feed store', () => {
  it('keeps each entry once, newest first', () => {
    const feed = useFeedStore()
    feed.replace([entry(1), entry(3)])
    feed.add(entry(4))
    feed.add(entry(3))
    feed.add(entry(2))

    expect(feed.entries.map((item) => item.id)).toEqual([4, 3, 2, 1])
  })
})
