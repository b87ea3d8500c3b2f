// Sign in: an account id and an API token, checked by listing one video. Kept for the
// tab's life in sessionStorage only.
import { useState } from 'preact/hooks';
import { api, saveSession } from '../api.js';
import { ErrorBox } from '../ui.jsx';

export function SignIn({ onSignIn }) {
  const [account, setAccount] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const session = { account: account.trim(), token: token.trim() };
    if (!session.account || !session.token) {
      setError(new Error('Enter the account ID and an API token.'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api(session, 'GET', '/stream', { query: { limit: 1 } });
      saveSession(session);
      onSignIn(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="signin">
      <h1>Usher dashboard</h1>
      <p>Sign in with your account's ID and an API token. The token stays in this tab only.</p>
      <form onSubmit={submit} noValidate>
        <label for="signin-account">Account ID</label>
        <input
          id="signin-account"
          name="account"
          autoComplete="username"
          spellcheck={false}
          value={account}
          onInput={(e) => setAccount(e.currentTarget.value)}
          required
        />
        <label for="signin-token">API token</label>
        <input
          id="signin-token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          required
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
