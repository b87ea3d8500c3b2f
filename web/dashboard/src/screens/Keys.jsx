// Signing keys: create one (its private half shown once, with a download), list, revoke.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ConfirmButton, CopyButton, ErrorBox, Loading, Status, downloadText, formatTime, useAction, useLoad } from '../ui.jsx';

export function Keys({ session }) {
  const list = useLoad(async () => (await api(session, 'GET', '/stream/keys')).result, [session]);
  const [created, setCreated] = useState(null);
  const [done, setDone] = useState('');
  const act = useAction();
  const create = () =>
    act.run(async () => {
      setDone('');
      const env = await api(session, 'POST', '/stream/keys', { json: {} });
      setCreated(env.result);
      await list.reload();
    });
  const revoke = (id) =>
    act.run(async () => {
      await api(session, 'DELETE', `/stream/keys/${id}`);
      if (created && created.id === id) setCreated(null);
      setDone(`Key ${id} revoked`);
      await list.reload();
    });
  return (
    <section>
      <h1>Signing keys</h1>
      <p>
        Keys let your own servers sign viewer tokens without calling Usher. Usher keeps only the
        public half: the private key is shown once, when it is created.
      </p>
      <button type="button" onClick={create} disabled={act.busy}>
        Create signing key
      </button>
      <ErrorBox error={act.error} />
      <Status text={done} />
      {created ? (
        <div class="card once" role="region" aria-labelledby="once-h">
          <h2 id="once-h">New key {created.id}</h2>
          <p class="warn">Save the private key now: it will not be shown again.</p>
          <label for="key-pem">Private key (PEM, base64)</label>
          <textarea id="key-pem" readOnly rows={3} value={created.pem} />
          <label for="key-jwk">Private key (JWK, base64)</label>
          <textarea id="key-jwk" readOnly rows={3} value={created.jwk} />
          <div class="copies">
            <button
              type="button"
              onClick={() =>
                downloadText(
                  `usher-signing-key-${created.id}.json`,
                  JSON.stringify({ id: created.id, pem: created.pem, jwk: created.jwk }, null, 2),
                )
              }
            >
              Download key
            </button>
            <CopyButton text={created.pem} label="Copy PEM" />
            <CopyButton text={created.jwk} label="Copy JWK" />
            <button type="button" onClick={() => setCreated(null)}>
              I saved it, hide it
            </button>
          </div>
        </div>
      ) : null}
      <h2>Keys</h2>
      {list.loading && !list.data ? <Loading what="Loading keys" /> : null}
      <ErrorBox error={list.error} />
      {list.data ? (
        list.data.length ? (
          <ul class="items" aria-label="Signing keys">
            {list.data.map((k) => (
              <li key={k.id} data-key={k.id}>
                <span>
                  <code>{k.id}</code> <span class="muted">created {formatTime(k.created)}</span>
                </span>
                <ConfirmButton
                  label="Revoke"
                  name={`Revoke key ${k.id}`}
                  confirmLabel="Revoke"
                  question="Revoke this key? Tokens it signed stop working."
                  onConfirm={() => revoke(k.id)}
                  busy={act.busy}
                />
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No signing keys.</p>
        )
      ) : null}
    </section>
  );
}
