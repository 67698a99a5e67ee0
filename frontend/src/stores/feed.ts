import { defineStore } from 'pinia'
import type { LogEntry } from '@/services/activity'

const LIMIT = 200

/** The activity feed: newest first, each entry once, at most LIMIT kept. */
export const useFeedStore = defineStore('feed', {
  state: () => ({ entries: [] as LogEntry[], status: 'connecting' as 'connecting' | 'live' | 'reconnecting' }),
  actions: {
    replace(entries: LogEntry[]) {
      this.entries = [...entries].sort((a, b) => b.id - a.id).slice(0, LIMIT)
    },
    add(entry: LogEntry) {
      if (this.entries.some((known) => known.id === entry.id)) return
      this.entries.unshift(entry)
      this.entries.sort((a, b) => b.id - a.id)
      if (this.entries.length > LIMIT) this.entries.length = LIMIT
    },
    setStatus(status: 'connecting' | 'live' | 'reconnecting') {
      this.status = status
    },
  },
})
