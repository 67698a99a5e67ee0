import { defineStore } from 'pinia'
import type { User } from '@/services/auth'

/** Who is signed in (null: nobody) and whether the session has been looked for yet. */
export const useSessionStore = defineStore('session', {
  state: () => ({ user: null as User | null, checked: false }),
  getters: {
    signedIn: (state) => state.user !== null,
    isAdmin: (state) => state.user?.role === 'admin',
  },
  actions: {
    setUser(user: User | null) {
      this.user = user
      this.checked = true
    },
  },
})
