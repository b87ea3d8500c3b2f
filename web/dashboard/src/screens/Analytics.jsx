// Viewing analytics (SPEC §10): views, minutes and bytes delivered per video per day,
// and denials by reason, as counted by the edge, for a date range; charted with uPlot.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { api } from '../api.js';
import { ErrorBox, Loading, formatBytes, useLoad, videoName } from '../ui.jsx';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The range shown first: the last week, today included. */
const DEFAULT_DAYS = 7;

function isoDay(t) {
  return new Date(t).toISOString().slice(0, 10);
}

/** Every day from `since` to `until` (YYYY-MM-DD, UTC), inclusive. */
export function daysBetween(since, until) {
  const out = [];
  const end = Date.parse(`${until}T00:00:00Z`);
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= end && out.length < 3700; t += DAY_MS) {
    out.push(isoDay(t));
  }
  return out;
}

/** Sums rows per video and per day. */
export function summarise(rows, days) {
  const perVideo = new Map();
  const perDay = new Map(days.map((d) => [d, { views: 0, minutes: 0 }]));
  const denials = new Map();
  const total = { views: 0, minutes: 0, bytes: 0, denials: 0 };
  for (const r of rows) {
    const v = perVideo.get(r.uid) || { uid: r.uid, views: 0, minutes: 0, bytes: 0, denials: 0 };
    const den = Object.values(r.denials || {}).reduce((a, b) => a + (Number(b) || 0), 0);
    v.views += Number(r.views) || 0;
    v.minutes += Number(r.minutesDelivered) || 0;
    v.bytes += Number(r.bytesDelivered) || 0;
    v.denials += den;
    perVideo.set(r.uid, v);
    const d = perDay.get(r.date);
    if (d) {
      d.views += Number(r.views) || 0;
      d.minutes += Number(r.minutesDelivered) || 0;
    }
    for (const [reason, n] of Object.entries(r.denials || {})) {
      denials.set(reason, (denials.get(reason) || 0) + (Number(n) || 0));
    }
    total.views += Number(r.views) || 0;
    total.minutes += Number(r.minutesDelivered) || 0;
    total.bytes += Number(r.bytesDelivered) || 0;
    total.denials += den;
  }
  return {
    videos: [...perVideo.values()].sort((a, b) => b.views - a.views || b.minutes - a.minutes),
    days: days.map((d) => ({ date: d, ...perDay.get(d) })),
    denials: [...denials.entries()].sort((a, b) => b[1] - a[1]),
    total,
  };
}

function Chart({ days }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const data = [
      days.map((d) => Date.parse(`${d.date}T00:00:00Z`) / 1000),
      days.map((d) => d.views),
      days.map((d) => Math.round(d.minutes * 10) / 10),
    ];
    const width = () => Math.max(280, box.current.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        scales: { x: { time: true }, views: { auto: true }, minutes: { auto: true } },
        series: [
          { label: 'Day (UTC)', value: (_u, v) => (v == null ? '–' : isoDay(v * 1000)) },
          { label: 'Views', scale: 'views', stroke: '#2557d6', width: 2, fill: 'rgba(37,87,214,0.08)' },
          { label: 'Minutes', scale: 'minutes', stroke: '#c2410c', width: 2, dash: [6, 4] },
        ],
        axes: [
          {
            // One tick per day at most, labelled by its date.
            incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400],
            values: (_u, splits) => splits.map((t) => isoDay(t * 1000).slice(5)),
          },
          { scale: 'views', label: 'Views' },
          { scale: 'minutes', side: 1, label: 'Minutes', grid: { show: false } },
        ],
      },
      data,
      box.current,
    );
    const resize = () => plot.setSize({ width: width(), height: 260 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, [days]);
  return <div class="chart" ref={box} role="img" aria-label="Views and minutes delivered per day" />;
}

export function Analytics({ session }) {
  const today = isoDay(Date.now());
  const [since, setSince] = useState(isoDay(Date.now() - (DEFAULT_DAYS - 1) * DAY_MS));
  const [until, setUntil] = useState(today);
  const [uid, setUid] = useState('');
  const [creator, setCreator] = useState('');
  const [asked, setAsked] = useState({ since, until, uid: '', creator: '', n: 0 });
  const stats = useLoad(async () => {
    const [views, names] = await Promise.all([
      api(session, 'GET', '/stream/analytics/views', {
        query: { since: asked.since, until: asked.until, uid: asked.uid, creator: asked.creator },
      }),
      api(session, 'GET', '/stream', { query: { limit: 1000 } }).catch(() => ({ result: [] })),
    ]);
    const byUid = new Map(names.result.map((v) => [v.uid, videoName(v)]));
    return { rows: views.result || [], byUid };
  }, [session, asked]);
  const summary = useMemo(
    () => (stats.data ? summarise(stats.data.rows, daysBetween(asked.since, asked.until)) : null),
    [stats.data, asked.since, asked.until],
  );
  const submit = (e) => {
    e.preventDefault();
    setAsked({ since, until, uid: uid.trim(), creator: creator.trim(), n: asked.n + 1 });
  };
  return (
    <section>
      <h1>Analytics</h1>
      <p class="muted">
        Counted by the edge from what it delivers: a view is one viewer (token, or address and video)
        per 30 minutes. Days are UTC; counts appear within about 10 seconds.
      </p>
      <form class="filters" onSubmit={submit}>
        <div class="field">
          <label for="an-since">From</label>
          <input id="an-since" type="date" value={since} max={until} onInput={(e) => setSince(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="an-until">To</label>
          <input id="an-until" type="date" value={until} min={since} onInput={(e) => setUntil(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="an-uid">Video UID</label>
          <input id="an-uid" placeholder="all" value={uid} onInput={(e) => setUid(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="an-creator">Creator</label>
          <input id="an-creator" placeholder="all" value={creator} onInput={(e) => setCreator(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={stats.loading}>
          {stats.loading ? 'Loading…' : 'Refresh'}
        </button>
      </form>
      <ErrorBox error={stats.error} />
      {stats.loading && !stats.data ? <Loading what="Loading analytics" /> : null}
      {summary ? (
        <>
          <dl class="totals" aria-label="Totals">
            <div><dt>Views</dt><dd>{summary.total.views}</dd></div>
            <div><dt>Minutes delivered</dt><dd>{summary.total.minutes.toFixed(1)}</dd></div>
            <div><dt>Bytes delivered</dt><dd>{formatBytes(summary.total.bytes)}</dd></div>
            <div><dt>Denials</dt><dd>{summary.total.denials}</dd></div>
          </dl>
          <Chart days={summary.days} />
          <h2>Per video</h2>
          <div class="table-wrap">
            <table class="per-video">
              <thead>
                <tr>
                  <th scope="col">Video</th>
                  <th scope="col" class="num">Views</th>
                  <th scope="col" class="num">Minutes</th>
                  <th scope="col" class="num">Bytes</th>
                  <th scope="col" class="num">Denials</th>
                </tr>
              </thead>
              <tbody>
                {summary.videos.length === 0 ? (
                  <tr><td colSpan={5}>Nothing was watched in this range.</td></tr>
                ) : null}
                {summary.videos.map((v) => (
                  <tr key={v.uid} data-uid={v.uid}>
                    <td><a href={`#/videos/${v.uid}`}>{stats.data.byUid.get(v.uid) || v.uid}</a></td>
                    <td class="num views">{v.views}</td>
                    <td class="num">{v.minutes.toFixed(1)}</td>
                    <td class="num">{formatBytes(v.bytes)}</td>
                    <td class="num">{v.denials}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>Denials by reason</h2>
          {summary.denials.length ? (
            <div class="table-wrap">
              <table class="denials">
                <thead>
                  <tr><th scope="col">Reason</th><th scope="col" class="num">Count</th></tr>
                </thead>
                <tbody>
                  {summary.denials.map(([reason, n]) => (
                    <tr key={reason}><td>{reason}</td><td class="num">{n}</td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p class="muted">No viewer was refused in this range.</p>
          )}
        </>
      ) : null}
    </section>
  );
}
