import { createRouter, createWebHistory, type Router } from 'vue-router'
import { resumeSession } from '@/services/auth'
import { useSessionStore } from '@/stores/session'
import SignInView from '@/views/SignInView.vue'

/** The app's routes: sign-in is in the first bundle, every other screen loads on demand. */
export function createAppRouter(): Router {
  const router = createRouter({
    history: createWebHistory(),
    routes: [
      { path: '/signin', name: 'signin', component: SignInView, meta: { public: true, title: 'Sign in' } },
      { path: '/register', name: 'register', component: () => import('@/views/RegisterView.vue'), meta: { public: true, title: 'Register' } },
      { path: '/', name: 'board', component: () => import('@/views/BoardView.vue'), meta: { title: 'Board' } },
      { path: '/tasks/:id(\\d+)', name: 'task', component: () => import('@/views/TaskDetailView.vue'), props: (route) => ({ id: Number(route.params.id) }), meta: { title: 'Task' } },
      { path: '/activity', name: 'activity', component: () => import('@/views/FeedView.vue'), meta: { title: 'Activity' } },
      { path: '/dashboard', name: 'dashboard', component: () => import('@/views/DashboardView.vue'), meta: { title: 'Dashboard' } },
      { path: '/admin/users', name: 'users', component: () => import('@/views/AdminUsersView.vue'), meta: { title: 'Users', admin: true } },
      { path: '/:rest(.*)*', redirect: '/' },
    ],
  })
  router.beforeEach(async (to) => {
    const session = useSessionStore()
    if (!session.checked) session.setUser(await resumeSession().catch(() => null))
    if (!to.meta.public && !session.signedIn) return { name: 'signin', query: { next: to.fullPath } }
    if (to.meta.admin && !session.isAdmin) return { name: 'board' }
    return true
  })
  router.afterEach((to) => {
    document.title = `${String(to.meta.title ?? '')} · Efficient System`
  })
  return router
}
