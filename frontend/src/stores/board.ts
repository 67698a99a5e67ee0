import { defineStore } from 'pinia'
import type { Task, TaskFilters, TaskStatus } from '@/services/tasks'

/** The board's tasks (in the order the API gave them), its filters and the next cursor. */
export const useBoardStore = defineStore('board', {
  state: () => ({
    tasks: [] as Task[],
    filters: { sort: 'created_at', order: 'desc' } as TaskFilters,
    nextCursor: null as string | null,
  }),
  getters: {
    column: (state) => (status: TaskStatus) => state.tasks.filter((task) => task.status === status),
  },
  actions: {
    replace(tasks: Task[], nextCursor: string | null) {
      this.tasks = tasks
      this.nextCursor = nextCursor
    },
    append(tasks: Task[], nextCursor: string | null) {
      const known = new Set(this.tasks.map((task) => task.id))
      this.tasks.push(...tasks.filter((task) => !known.has(task.id)))
      this.nextCursor = nextCursor
    },
    put(task: Task) {
      const index = this.tasks.findIndex((item) => item.id === task.id)
      if (index === -1) this.tasks.unshift(task)
      else this.tasks[index] = task
    },
    remove(taskId: number) {
      this.tasks = this.tasks.filter((task) => task.id !== taskId)
    },
  },
})
