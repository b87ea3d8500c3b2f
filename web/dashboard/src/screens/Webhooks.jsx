// The account's webhook: where Usher posts notifications, and the secret that signs them.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ConfirmButton, CopyButton, ErrorBox, Loading, Status, formatTime, useAction, useLoad } from '../ui.jsx';

export function Webhooks({ session }) {
  const hook = useLoad(async () => {
    try {
      return (await api(session, 'GET', '/stream/webhook')).result;
    } catch (e) {
      if (e.status === 404) return false;
      throw e;
    }
  }, [session]);
  const [url, setUrl] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  const save = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      const env = await api(session, 'PUT', '/stream/webhook', { json: { notificationUrl: url.trim() } });
      hook.setData(env.result);
      setUrl('');
      setDone('Webhook saved: a new secret was made');
    });
  };
  const remove = () =>
    act.run(async () => {
      await api(session, 'DELETE', '/stream/webhook');
      hook.setData(false);
      setDone('Webhook deleted');
    });
  return (
    <section>
      <h1>Webhooks</h1>
      <p>
        Usher posts a notification to this URL when a video is ready or fails, and when a live
        input connects or disconnects, signed with the secret below.
      </p>
      {hook.loading && hook.data === null ? <Loading what="Loading the webhook" /> : null}
      <ErrorBox error={hook.error} />
      {hook.data ? (
        <div class="card">
          <dl class="facts">
            <dt>Notification URL</dt>
            <dd><code class="wrap">{hook.data.notificationUrl}</code></dd>
            <dt>Secret</dt>
            <dd>
              <code class="wrap">{hook.data.secret}</code> <CopyButton text={hook.data.secret} label="Copy secret" />
            </dd>
            <dt>Modified</dt>
            <dd>{formatTime(hook.data.modified)}</dd>
          </dl>
          <ConfirmButton
            label="Delete webhook"
            confirmLabel="Delete"
            question="Stop sending notifications?"
            onConfirm={remove}
            busy={act.busy}
          />
        </div>
      ) : hook.data === false ? (
        <p class="muted">No webhook is set.</p>
      ) : null}
      <form class="card" onSubmit={save}>
        <div class="field">
          <label for="hook-url">Notification URL</label>
          <input
            id="hook-url"
            type="url"
            placeholder="https://example.com/usher-webhook"
            value={url}
            onInput={(e) => setUrl(e.currentTarget.value)}
          />
        </div>
        <button type="submit" disabled={act.busy}>
          {hook.data ? 'Replace webhook' : 'Set webhook'}
        </button>
        <ErrorBox error={act.error} />
        <Status text={done} />
      </form>
    </section>
  );
}
