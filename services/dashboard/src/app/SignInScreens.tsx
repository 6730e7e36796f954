import { useId, useState } from 'react';
import { TOKEN_STORAGE_KEY } from '../auth/fragment-token';

/** Development, without a token: the banner's URL carries one; pasting one works too. */
export function NeedsToken({ reason }: { reason: string | null }) {
  const [token, setToken] = useState('');
  const id = useId();
  return (
    <main className="signin" id="main">
      <h1>AgentOS SSOT</h1>
      {reason && (
        <p className="notice notice-error" role="alert">
          The token given cannot be used: {reason}.
        </p>
      )}
      <p>
        Open the dashboard with the URL <code>npm start</code> prints (it carries a development token after <code>#token=</code>), or paste an admin token:
      </p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          sessionStorage.setItem(TOKEN_STORAGE_KEY, token.trim());
          location.reload();
        }}
      >
        <label htmlFor={id}>Admin token</label>
        <input id={id} type="password" value={token} onChange={(e) => setToken(e.target.value)} autoComplete="off" required />
        <button type="submit" className="button button-primary">
          Sign in
        </button>
      </form>
    </main>
  );
}

/** Signed in, but not as an admin: the dashboard shows admin data only, so it asks for none. */
export function NotAdmin({ subject, signOut }: { subject: string; signOut: () => void }) {
  return (
    <main className="signin" id="main">
      <h1>AgentOS SSOT</h1>
      <p className="notice notice-error" role="alert" data-testid="not-admin">
        Signed in as <strong className="break">{subject}</strong>, without the admin role. The dashboard shows admin data only.
      </p>
      <button type="button" className="button" onClick={signOut}>
        Sign out
      </button>
    </main>
  );
}

export function SignInError({ message }: { message: string }) {
  return (
    <main className="signin" id="main">
      <h1>AgentOS SSOT</h1>
      <p className="notice notice-error" role="alert">
        {message}
      </p>
      <a className="button" href="/">
        Try again
      </a>
    </main>
  );
}
