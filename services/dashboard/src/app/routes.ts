/** The views, in the order of the navigation and of their keys (1–6). */
export const ROUTES = [
  { path: '/', key: '1', label: 'Dashboard' },
  { path: '/analytics', key: '2', label: 'Analytics' },
  { path: '/queue', key: '3', label: 'Queue' },
  { path: '/agents', key: '4', label: 'Agents' },
  { path: '/logs', key: '5', label: 'Logs' },
  { path: '/system', key: '6', label: 'System' },
] as const;

export type RoutePath = (typeof ROUTES)[number]['path'];

export const routeOf = (pathname: string): (typeof ROUTES)[number] | undefined => ROUTES.find((route) => route.path === pathname);
