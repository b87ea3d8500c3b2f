// A video's page: the player (signed for a private video), its settings, downloads,
// captions, audio tracks, the embed code builder, and deletion.
import { useEffect, useState } from 'preact/hooks';
import { api, iframeUrl, mintToken } from '../api.js';
import {
  ConfirmButton, ErrorBox, Loading, Status, WORKING, formatBytes, formatDuration, formatTime,
  pct, useAction, useLoad, videoName,
} from '../ui.jsx';
import { EmbedBuilder } from './Embed.jsx';
import { Captions, AudioTracks } from './Tracks.jsx';

const POLL_MS = 2000;

/** `datetime-local` text for an RFC 3339 time, in the browser's zone. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d.getTime() - off).toISOString().slice(0, 16);
}

function Player({ session, video }) {
  const [src, setSrc] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    let gone = false;
    setSrc(null);
    setError(null);
    if (!video.readyToStream) return undefined;
    if (!video.requireSignedURLs) {
      setSrc(iframeUrl(video.uid));
    } else {
      mintToken(session, video.uid, {})
        .then((t) => !gone && setSrc(iframeUrl(t)))
        .catch((e) => !gone && setError(e));
    }
    return () => {
      gone = true;
    };
  }, [session, video.uid, video.readyToStream, video.requireSignedURLs]);
  if (!video.readyToStream) {
    return (
      <div class="player placeholder">
        <p>
          Not ready to play yet ({video.status.state}
          {WORKING.includes(video.status.state) ? `, ${pct(video).toFixed(0)}%` : ''}).
        </p>
        {WORKING.includes(video.status.state) ? (
          <progress max="100" value={pct(video)} aria-label="Processing" />
        ) : null}
      </div>
    );
  }
  return (
    <div class="player">
      <ErrorBox error={error} />
      {src ? (
        <iframe
          title={`Player: ${videoName(video)}`}
          src={src}
          allow="accelerometer; gyroscope; autoplay; encrypted-media; picture-in-picture;"
          allowFullScreen
        />
      ) : error ? null : (
        <Loading what="Signing the player" />
      )}
    </div>
  );
}

function Settings({ session, video, onSaved }) {
  const [name, setName] = useState(videoName(video) === video.uid ? '' : videoName(video));
  const [signed, setSigned] = useState(video.requireSignedURLs);
  const [origins, setOrigins] = useState((video.allowedOrigins || []).join(', '));
  const [deletion, setDeletion] = useState(toLocalInput(video.scheduledDeletion));
  const [creator, setCreator] = useState(video.creator || '');
  const [saved, setSaved] = useState('');
  const act = useAction();
  const save = (e) => {
    e.preventDefault();
    setSaved('');
    act.run(async () => {
      const body = {
        meta: { ...(video.meta || {}), name: name.trim() || undefined },
        requireSignedURLs: signed,
        allowedOrigins: origins.split(/[\s,]+/).map((o) => o.trim()).filter(Boolean),
        scheduledDeletion: deletion ? new Date(deletion).toISOString() : null,
        creator: creator.trim() || null,
      };
      if (!body.meta.name) delete body.meta.name;
      const env = await api(session, 'POST', `/stream/${video.uid}`, { json: body });
      setSaved('Settings saved');
      onSaved(env.result);
    });
  };
  return (
    <form class="card" onSubmit={save} aria-labelledby="settings-h">
      <h2 id="settings-h">Settings</h2>
      <div class="field">
        <label for="set-name">Name</label>
        <input id="set-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field check">
        <input
          id="set-signed"
          type="checkbox"
          checked={signed}
          onChange={(e) => setSigned(e.currentTarget.checked)}
        />
        <label for="set-signed">Require signed URLs</label>
      </div>
      <div class="field">
        <label for="set-origins">Allowed origins</label>
        <input
          id="set-origins"
          aria-describedby="set-origins-help"
          placeholder="example.com, *.example.net"
          value={origins}
          onInput={(e) => setOrigins(e.currentTarget.value)}
        />
        <small id="set-origins-help" class="muted">
          Sites that may embed the video, comma separated; empty for any.
        </small>
      </div>
      <div class="field">
        <label for="set-creator">Creator</label>
        <input id="set-creator" value={creator} onInput={(e) => setCreator(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="set-deletion">Scheduled deletion</label>
        <input
          id="set-deletion"
          type="datetime-local"
          value={deletion}
          onInput={(e) => setDeletion(e.currentTarget.value)}
        />
        {deletion ? (
          <button type="button" class="link" onClick={() => setDeletion('')}>
            Clear scheduled deletion
          </button>
        ) : null}
      </div>
      <button type="submit" disabled={act.busy}>
        {act.busy ? 'Saving…' : 'Save settings'}
      </button>
      <ErrorBox error={act.error} />
      <Status text={saved} />
    </form>
  );
}

function Downloads({ session, video }) {
  const dl = useLoad(async () => (await api(session, 'GET', `/stream/${video.uid}/downloads`)).result, [
    session, video.uid,
  ]);
  const act = useAction();
  const [signedLink, setSignedLink] = useState(null);
  const d = dl.data && dl.data.default;
  const set = (on) =>
    act.run(async () => {
      const env = await api(session, on ? 'POST' : 'DELETE', `/stream/${video.uid}/downloads`);
      dl.setData(on ? env.result : {});
      setSignedLink(null);
    });
  const sign = () =>
    act.run(async () => {
      const token = await mintToken(session, video.uid, { downloadable: true });
      setSignedLink(d.url.replace(`/${video.uid}/`, `/${token}/`));
    });
  return (
    <section class="card" aria-labelledby="dl-h">
      <h2 id="dl-h">Downloads</h2>
      <ErrorBox error={dl.error || act.error} />
      {dl.loading && !dl.data ? <Loading /> : null}
      {dl.data && !d ? (
        <>
          <p>MP4 downloads are off.</p>
          <button type="button" onClick={() => set(true)} disabled={act.busy}>
            Enable downloads
          </button>
        </>
      ) : null}
      {d ? (
        <>
          <p>
            MP4 download: {d.status}
            {d.status === 'inprogress' ? ` (${Number(d.percentComplete).toFixed(0)}%)` : ''}.{' '}
            {d.status === 'ready' && !video.requireSignedURLs ? (
              <a href={d.url} download>
                Download MP4
              </a>
            ) : null}
          </p>
          {d.status === 'ready' && video.requireSignedURLs ? (
            signedLink ? (
              <p>
                <a href={signedLink} download>
                  Download MP4 (signed, 1 hour)
                </a>
              </p>
            ) : (
              <button type="button" onClick={sign} disabled={act.busy}>
                Create a signed download link
              </button>
            )
          ) : null}{' '}
          <button type="button" onClick={() => set(false)} disabled={act.busy}>
            Disable downloads
          </button>
        </>
      ) : null}
    </section>
  );
}

export function VideoPage({ session, uid }) {
  const v = useLoad(async () => (await api(session, 'GET', `/stream/${uid}`)).result, [session, uid]);
  const del = useAction();
  const working = v.data && WORKING.includes(v.data.status.state);
  useEffect(() => {
    if (!working) return undefined;
    const t = setInterval(() => v.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [working, v.reload]);
  if (v.loading && !v.data) return <Loading what="Loading the video" />;
  if (!v.data) {
    return (
      <section>
        <p>
          <a href="#/">← Videos</a>
        </p>
        <ErrorBox error={v.error} />
      </section>
    );
  }
  const video = v.data;
  const remove = () =>
    del.run(async () => {
      await api(session, 'DELETE', `/stream/${video.uid}`);
      window.location.hash = '#/';
    });
  return (
    <section class="video-page">
      <p>
        <a href="#/">← Videos</a>
      </p>
      <h1>{videoName(video)}</h1>
      <ErrorBox error={v.error} />
      <dl class="facts">
        <dt>UID</dt>
        <dd><code>{video.uid}</code></dd>
        <dt>State</dt>
        <dd class={`state state-${video.status.state}`}>{video.status.state}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(video.duration)}</dd>
        <dt>Size</dt>
        <dd>{formatBytes(video.size)}</dd>
        <dt>Resolution</dt>
        <dd>{video.input.width > 0 ? `${video.input.width}×${video.input.height}` : '–'}</dd>
        <dt>Created</dt>
        <dd>{formatTime(video.created)}</dd>
        <dt>Access</dt>
        <dd>{video.requireSignedURLs ? 'Private: signed URLs required' : 'Public'}</dd>
      </dl>
      <Player session={session} video={video} />
      <div class="columns">
        <Settings key={video.uid} session={session} video={video} onSaved={v.setData} />
        <EmbedBuilder session={session} video={video} />
      </div>
      <div class="columns">
        <Captions session={session} video={video} />
        <AudioTracks session={session} video={video} />
      </div>
      <Downloads session={session} video={video} />
      <section class="card danger-zone" aria-labelledby="del-h">
        <h2 id="del-h">Delete</h2>
        <p>Deleting removes the video and every file made from it.</p>
        <ConfirmButton
          label="Delete video"
          confirmLabel="Yes, delete it"
          question={`Delete ${videoName(video)} for good?`}
          onConfirm={remove}
          busy={del.busy}
        />
        <ErrorBox error={del.error} />
      </section>
    </section>
  );
}
