import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { navigate } from '../app/router';

/** An ordinary link (tabbable, opens in a new tab with a modifier) that moves within the app without a reload. */
export function Link({ to, replace, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; replace?: boolean }) {
  const click = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to, { replace });
  };
  return <a href={to} onClick={click} {...rest} />;
}
