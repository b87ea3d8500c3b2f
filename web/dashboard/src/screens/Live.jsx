// Live inputs: list and create; an input's page shows its RTMP and SRT ingest details
// with copy buttons, rotates its stream key, and shows whether a publisher is connected.
import { useEffect, useState } from 'preact/hooks';
import { api, iframeUrl, liveViewers } from '../api.js';
import { ConfirmButton, CopyButton, ErrorBox, Loading, Status, formatTime, useAction, useLoad } from '../ui.jsx';

/** How often an input's page reads its connection status again. */
const POLL_MS = 5000;

function inputName(i) {
  return (i.meta && typeof i.meta.name === 'string' && i.meta.name) || i.uid;
}

export function LiveInputs({ session }) {
  const list = useLoad(async () => (await api(session, 'GET', '/stream/live_inputs')).result, [session]);
  const [name, setName] = useState('');
  const act = useAction();
  const create = (e) => {
    e.preventDefault();
    act.run(async () => {
      const env = await api(session, 'POST', '/stream/live_inputs', {
        json: { meta: name.trim() ? { name: name.trim() } : {}, recording: { mode: 'automatic' } },
      });
      window.location.hash = `#/live/${env.result.uid}`;
    });
  };
  const inputs = list.data ? list.data.liveInputs || [] : [];
  return (
    <section>
      <h1>Live inputs</h1>
      <form class="card inline" onSubmit={create}>
        <div class="field">
          <label for="live-name">Name</label>
          <input id="live-name" placeholder="Main stage" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={act.busy}>
          Create live input
        </button>
        <ErrorBox error={act.error} />
      </form>
      {list.loading && !list.data ? <Loading what="Loading live inputs" /> : null}
      <ErrorBox error={list.error} />
      {list.data ? (
        inputs.length ? (
          <ul class="items" aria-label="Live inputs">
            {inputs.map((i) => (
              <li key={i.uid}>
                <a href={`#/live/${i.uid}`}>{inputName(i)}</a>
                <span class="muted">
                  {i.enabled === false ? 'disabled' : 'enabled'}, created {formatTime(i.created)}
                </span>
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No live inputs.</p>
        )
      ) : null}
    </section>
  );
}

function Secret({ id, label, copy, value }) {
  const [shown, setShown] = useState(false);
  return (
    <div class="field secret">
      <label for={id}>{label}</label>
      <input id={id} readOnly type={shown ? 'text' : 'password'} value={value || ''} />
      <button type="button" onClick={() => setShown(!shown)} aria-pressed={shown}>
        {shown ? 'Hide' : 'Show'}
      </button>
      <CopyButton text={value} label={copy} />
    </div>
  );
}

function Plain({ id, label, value }) {
  return (
    <div class="field secret">
      <label for={id}>{label}</label>
      <input id={id} readOnly value={value || ''} />
      <CopyButton text={value} label={`Copy ${label}`} />
    </div>
  );
}

export function LiveInputPage({ session, uid }) {
  const input = useLoad(async () => (await api(session, 'GET', `/stream/live_inputs/${uid}`)).result, [
    session, uid,
  ]);
  const viewers = useLoad(() => liveViewers(uid), [uid]);
  const act = useAction();
  const [done, setDone] = useState('');
  useEffect(() => {
    const t = setInterval(() => {
      input.reload();
      viewers.reload();
    }, POLL_MS);
    return () => clearInterval(t);
  }, [input.reload, viewers.reload]);
  if (input.loading && !input.data) return <Loading what="Loading the live input" />;
  if (!input.data) {
    return (
      <section>
        <p><a href="#/live">← Live inputs</a></p>
        <ErrorBox error={input.error} />
      </section>
    );
  }
  const i = input.data;
  const state = i.status && i.status.current ? i.status.current.state : 'disconnected';
  const rotate = () =>
    act.run(async () => {
      const env = await api(session, 'POST', `/stream/live_inputs/${uid}/rotate_keys`, { json: {} });
      input.setData(env.result);
      setDone('New stream key and SRT passphrase made: the old ones no longer connect');
    });
  const remove = () =>
    act.run(async () => {
      await api(session, 'DELETE', `/stream/live_inputs/${uid}`);
      window.location.hash = '#/live';
    });
  return (
    <section>
      <p><a href="#/live">← Live inputs</a></p>
      <h1>{inputName(i)}</h1>
      <ErrorBox error={input.error} />
      <dl class="facts">
        <dt>UID</dt>
        <dd><code>{i.uid}</code></dd>
        <dt>Connection</dt>
        <dd class={`state state-${state}`} role="status" aria-live="polite">
          {state}
          {i.status && i.status.current ? ` since ${formatTime(i.status.current.statusEnteredAt)}` : ''}
        </dd>
        <dt>Recording</dt>
        <dd>{i.recording ? i.recording.mode : '–'}</dd>
        <dt>Viewers</dt>
        <dd aria-live="polite">
          {viewers.error ? (
            <span class="muted">{viewers.error.message}</span>
          ) : viewers.data === undefined || viewers.data === null ? (
            '–'
          ) : (
            viewers.data
          )}
        </dd>
      </dl>
      <div class="card">
        <h2>RTMP</h2>
        <Plain id="rtmp-url" label="RTMP URL" value={i.rtmps && i.rtmps.url} />
        <Secret id="rtmp-key" label="Stream key" copy="Copy stream key" value={i.rtmps && i.rtmps.streamKey} />
        <h2>SRT</h2>
        <Plain id="srt-url" label="SRT URL" value={i.srt && i.srt.url} />
        <Plain id="srt-id" label="SRT stream ID" value={i.srt && i.srt.streamId} />
        <Secret id="srt-pass" label="SRT passphrase" copy="Copy SRT passphrase" value={i.srt && i.srt.passphrase} />
        <ConfirmButton
          label="Rotate stream key"
          confirmLabel="Rotate"
          question="Make a new stream key and passphrase? Encoders using the old ones are refused."
          onConfirm={rotate}
          busy={act.busy}
        />
        <ErrorBox error={act.error} />
        <Status text={done} />
      </div>
      <div class="card">
        <h2>Playback</h2>
        <Plain id="live-hls" label="HLS URL" value={i.playback && i.playback.hls} />
        {i.recording && i.recording.requireSignedURLs ? (
          <p class="muted">Recordings require signed URLs: sign a token on the recording's video page.</p>
        ) : (
          <Plain id="live-iframe" label="Player URL" value={iframeUrl(i.uid)} />
        )}
      </div>
      <section class="card danger-zone">
        <h2>Delete</h2>
        <ConfirmButton
          label="Delete live input"
          confirmLabel="Yes, delete it"
          question="Delete this live input? Encoders can no longer connect to it."
          onConfirm={remove}
          busy={act.busy}
        />
      </section>
    </section>
  );
}
