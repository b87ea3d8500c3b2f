// The embed code builder: mints a signed token (expiry, downloadable, access rules in
// Cloudflare's accessRules shape) and shows the iframe code, the HLS URL and the token
// with copy buttons, beside what `token explain` says the edge would decide for it.
import { useState } from 'preact/hooks';
import { api, embedCode, hlsUrl, mintToken } from '../api.js';
import { CopyButton, ErrorBox, useAction } from '../ui.jsx';

/** Cloudflare's limit on a token's lifetime: 24 hours. */
const MAX_MINUTES = 24 * 60;

let ruleIds = 1;

function splitList(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** The rules as the token API takes them. */
export function accessRules(rules) {
  return rules.map((r) => {
    if (r.type === 'ip.src') return { type: 'ip.src', ip: splitList(r.values), action: r.action };
    if (r.type === 'ip.geoip.country') {
      return { type: 'ip.geoip.country', country: splitList(r.values).map((c) => c.toUpperCase()), action: r.action };
    }
    return { type: 'any', action: r.action };
  });
}

function RuleRow({ rule, index, onChange, onRemove }) {
  const n = index + 1;
  return (
    <fieldset class="rule">
      <legend>Rule {n}</legend>
      <label for={`rule-type-${rule.id}`}>Rule {n} matches</label>
      <select
        id={`rule-type-${rule.id}`}
        value={rule.type}
        onChange={(e) => onChange({ type: e.currentTarget.value })}
      >
        <option value="ip.src">IP addresses</option>
        <option value="ip.geoip.country">Countries</option>
        <option value="any">Anyone</option>
      </select>
      {rule.type !== 'any' ? (
        <>
          <label for={`rule-values-${rule.id}`}>
            {rule.type === 'ip.src' ? `Rule ${n} IP addresses or ranges` : `Rule ${n} country codes`}
          </label>
          <input
            id={`rule-values-${rule.id}`}
            placeholder={rule.type === 'ip.src' ? '203.0.113.0/24, 2001:db8::/32' : 'US, GB'}
            value={rule.values}
            onInput={(e) => onChange({ values: e.currentTarget.value })}
          />
        </>
      ) : null}
      <label for={`rule-action-${rule.id}`}>Rule {n} action</label>
      <select
        id={`rule-action-${rule.id}`}
        value={rule.action}
        onChange={(e) => onChange({ action: e.currentTarget.value })}
      >
        <option value="allow">allow</option>
        <option value="block">block</option>
      </select>
      <button type="button" onClick={onRemove} aria-label={`Remove rule ${n}`}>
        Remove
      </button>
    </fieldset>
  );
}

function Verdict({ explained }) {
  if (!explained) return null;
  return (
    <div class={`verdict ${explained.allowed ? 'allowed' : 'refused'}`} aria-live="polite">
      <h3>Token explain</h3>
      <p class="verdict-line">
        <strong>{explained.allowed ? 'Allowed' : 'Refused'}</strong> ({explained.status}):{' '}
        {explained.reason}
      </p>
      <ul class="checks">
        {(explained.checks || []).map((c, i) => (
          <li key={i} class={c.ok ? 'ok' : 'bad'}>
            <span aria-hidden="true">{c.ok ? '✓' : '✗'}</span>
            <span class="offscreen">{c.ok ? 'passed' : 'failed'}</span> <code>{c.check}</code>{' '}
            {c.detail}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function EmbedBuilder({ session, video }) {
  const [minutes, setMinutes] = useState(60);
  const [downloadable, setDownloadable] = useState(false);
  const [rules, setRules] = useState([]);
  const [made, setMade] = useState(null);
  const [as, setAs] = useState({ ip: '', country: '', origin: '' });
  const [explained, setExplained] = useState(null);
  const act = useAction();

  const explain = (token, who = as) =>
    api(session, 'POST', '/stream/token/explain', {
      json: {
        token,
        resource: 'player',
        ip: who.ip.trim() || undefined,
        country: who.country.trim().toUpperCase() || undefined,
        origin: who.origin.trim() || undefined,
      },
    }).then((env) => setExplained(env.result));

  const create = (e) => {
    e.preventDefault();
    act.run(async () => {
      const mins = Math.max(1, Math.min(MAX_MINUTES, Math.round(Number(minutes) || 60)));
      const exp = Math.floor(Date.now() / 1000) + mins * 60;
      const body = { exp, downloadable };
      if (rules.length) body.accessRules = accessRules(rules);
      const token = await mintToken(session, video.uid, body);
      setMade({ token, exp });
      setExplained(null);
      await explain(token);
    });
  };

  const id = made ? made.token : video.requireSignedURLs ? null : video.uid;
  const code = id ? embedCode(id) : '';
  const update = (i, change) => setRules(rules.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <section class="card embed" aria-labelledby="embed-h">
      <h2 id="embed-h">Embed code</h2>
      <form onSubmit={create}>
        <p class="muted">
          {video.requireSignedURLs
            ? 'This video is private: its embed code carries a signed token.'
            : 'This video is public: anyone may embed it by uid, or sign a token to add limits.'}
        </p>
        <div class="field">
          <label for="embed-minutes">Expires in (minutes)</label>
          <input
            id="embed-minutes"
            type="number"
            min="1"
            max={MAX_MINUTES}
            value={minutes}
            onInput={(e) => setMinutes(e.currentTarget.value)}
          />
        </div>
        <div class="field check">
          <input
            id="embed-downloadable"
            type="checkbox"
            checked={downloadable}
            onChange={(e) => setDownloadable(e.currentTarget.checked)}
          />
          <label for="embed-downloadable">Downloadable</label>
        </div>
        <h3>Access rules</h3>
        <p class="muted">Checked in order; the first that matches decides. None: anyone with the token.</p>
        {rules.map((r, i) => (
          <RuleRow
            key={r.id}
            rule={r}
            index={i}
            onChange={(c) => update(i, c)}
            onRemove={() => setRules(rules.filter((_, j) => j !== i))}
          />
        ))}
        <button
          type="button"
          onClick={() => setRules([...rules, { id: ruleIds++, type: 'ip.src', values: '', action: 'allow' }])}
        >
          Add rule
        </button>{' '}
        <button type="submit" disabled={act.busy}>
          {act.busy ? 'Signing…' : 'Create signed embed code'}
        </button>
        <ErrorBox error={act.error} />
      </form>
      {id ? (
        <div class="embed-out">
          <label for="embed-code">Embed code</label>
          <textarea id="embed-code" readOnly rows={4} value={code} />
          <div class="copies">
            <CopyButton text={code} label="Copy embed code" />
            <CopyButton text={hlsUrl(id)} label="Copy HLS URL" />
            {made ? <CopyButton text={made.token} label="Copy token" /> : null}
          </div>
          <p class="muted">
            HLS: <code class="wrap">{hlsUrl(id)}</code>
          </p>
          {made ? (
            <p class="muted">
              Token expires {new Date(made.exp * 1000).toLocaleString()}.
            </p>
          ) : null}
        </div>
      ) : null}
      <Verdict explained={explained} />
      {made ? (
        <form
          class="explain-as"
          onSubmit={(e) => {
            e.preventDefault();
            act.run(() => explain(made.token));
          }}
        >
          <h3>Explain for a viewer</h3>
          <div class="field">
            <label for="explain-ip">Viewer IP</label>
            <input id="explain-ip" placeholder="yours" value={as.ip} onInput={(e) => setAs({ ...as, ip: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="explain-country">Viewer country</label>
            <input id="explain-country" placeholder="from the IP" value={as.country} onInput={(e) => setAs({ ...as, country: e.currentTarget.value })} />
          </div>
          <div class="field">
            <label for="explain-origin">Embedding origin</label>
            <input id="explain-origin" placeholder="https://example.com" value={as.origin} onInput={(e) => setAs({ ...as, origin: e.currentTarget.value })} />
          </div>
          <button type="submit" disabled={act.busy}>
            Explain
          </button>
        </form>
      ) : null}
    </section>
  );
}
