import type { ReactNode } from 'react';

/** What a list says when it has nothing to list. */
export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}
