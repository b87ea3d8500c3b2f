// The video library: search by name, filter by state and creator, page through, watch
// processing progress (polled while anything is still processing), and upload.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ErrorBox, Loading, WORKING, formatDuration, formatTime, pct, useLoad, videoName } from '../ui.jsx';
import { Uploads } from './Uploads.jsx';

/** Videos per page. */
const PAGE = 20;
/** How often the list is read again while a video is processing. */
const POLL_MS = 2000;
const STATES = ['pendingupload', 'downloading', 'queued', 'inprogress', 'ready', 'error'];

function useDebounced(value, ms) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

function Thumb({ video }) {
  if (video.readyToStream && !video.requireSignedURLs) {
    return <img class="thumb" src={`${video.thumbnail}?height=90`} alt="" loading="lazy" />;
  }
  const text = video.requireSignedURLs ? 'Private' : video.status.state === 'error' ? 'Error' : '…';
  return (
    <span class="thumb placeholder" aria-hidden="true">
      {text}
    </span>
  );
}

function State({ video }) {
  const state = video.status.state;
  const working = WORKING.includes(state);
  return (
    <span class={`state state-${state}`}>
      <span class="state-name">{state}</span>
      {working && state !== 'pendingupload' ? (
        <progress max="100" value={pct(video)} aria-label={`Processing ${videoName(video)}`}>
          {pct(video).toFixed(0)}%
        </progress>
      ) : null}
      {state === 'error' && video.status.errorReasonText ? (
        <span class="muted"> {video.status.errorReasonText}</span>
      ) : null}
    </span>
  );
}

export function Library({ session }) {
  const [search, setSearch] = useState('');
  const [status, setStatus] = useState('');
  const [creator, setCreator] = useState('');
  // The page: the newest first; `before`/`after` are the created times of the edges
  // of the page shown, as the list API pages (`asc` reads newer pages upwards).
  const [cursor, setCursor] = useState({});
  const query = useDebounced({ search: search.trim().toLowerCase(), creator: creator.trim() }, 300);
  useEffect(() => setCursor((c) => (c.before || c.after ? {} : c)), [query.search, query.creator, status]);
  const list = useLoad(async () => {
    const env = await api(session, 'GET', '/stream', {
      query: {
        limit: PAGE + 1,
        include_counts: true,
        search: query.search,
        creator: query.creator,
        status,
        before: cursor.before,
        after: cursor.after,
        asc: cursor.after ? true : undefined,
      },
    });
    let videos = env.result;
    const more = videos.length > PAGE;
    videos = videos.slice(0, PAGE);
    if (cursor.after) videos.reverse();
    return {
      videos,
      total: env.total,
      hasOlder: cursor.after ? true : more,
      hasNewer: cursor.after ? more : Boolean(cursor.before),
    };
  }, [session, query.search, query.creator, status, cursor]);

  const rendered = useRef(false);
  useEffect(() => {
    if (list.data && !rendered.current) {
      rendered.current = true;
      // For the first-load measurement (navigation start to a rendered library).
      performance.mark('usher-library-rendered');
    }
  }, [list.data]);

  const working = list.data && list.data.videos.some((v) => WORKING.includes(v.status.state));
  useEffect(() => {
    if (!working) return undefined;
    const t = setInterval(() => list.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [working, list.reload]);

  const videos = list.data ? list.data.videos : [];
  return (
    <section>
      <h1>Videos</h1>
      <Uploads session={session} onUploaded={() => list.reload()} />
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field">
          <label for="lib-search">Search</label>
          <input
            id="lib-search"
            type="search"
            placeholder="Name contains…"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="lib-state">State</label>
          <select id="lib-state" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="lib-creator">Creator</label>
          <input
            id="lib-creator"
            value={creator}
            onInput={(e) => setCreator(e.currentTarget.value)}
          />
        </div>
      </form>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading what="Loading videos" /> : null}
      {list.data ? (
        <>
          <p class="muted" role="status" aria-live="polite">
            {list.data.total === undefined ? `${videos.length} shown` : `${list.data.total} videos`}
          </p>
          <div class="table-wrap">
            <table class="videos">
              <caption class="offscreen">Videos, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Thumbnail</th>
                  <th scope="col">Name</th>
                  <th scope="col">State</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {videos.length === 0 ? (
                  <tr>
                    <td colSpan={5}>No videos{search || status || creator ? ' match' : ' yet: upload one'}.</td>
                  </tr>
                ) : null}
                {videos.map((v) => (
                  <tr key={v.uid} data-uid={v.uid}>
                    <td>
                      <Thumb video={v} />
                    </td>
                    <td class="name">
                      <a href={`#/videos/${v.uid}`}>{videoName(v)}</a>
                      {v.creator ? <span class="muted"> by {v.creator}</span> : null}
                    </td>
                    <td>
                      <State video={v} />
                    </td>
                    <td>{formatDuration(v.duration)}</td>
                    <td>{formatTime(v.created)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <button
              type="button"
              disabled={!list.data.hasNewer}
              onClick={() => setCursor(videos.length ? { after: videos[0].created } : {})}
            >
              Newer
            </button>
            <button
              type="button"
              disabled={!list.data.hasOlder || videos.length === 0}
              onClick={() => setCursor({ before: videos[videos.length - 1].created })}
            >
              Older
            </button>
          </div>
        </>
      ) : null}
    </section>
  );
}
