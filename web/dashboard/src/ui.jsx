// Small pieces every screen uses: loading and error states, copy buttons, a hook that
// loads from the API, and formatting.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Shows an API error with its message, announced to screen readers. */
export function ErrorBox({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.message || String(error)}
    </p>
  );
}

export function Loading({ what = 'Loading' }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/** A polite status line for "Saved" and the like. */
export function Status({ text }) {
  return (
    <p class="status" role="status" aria-live="polite">
      {text || ''}
    </p>
  );
}

/**
 * Loads `fn()` now and whenever `deps` change; `reload()` loads again without clearing
 * what is shown (polling), `setData` replaces it after an edit.
 */
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const seq = useRef(0);
  const run = useCallback(async (quiet) => {
    const mine = ++seq.current;
    if (!quiet) setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const data = await fn();
      if (mine === seq.current) setState({ data, error: null, loading: false });
    } catch (error) {
      if (mine === seq.current) setState((s) => ({ ...s, error, loading: false }));
    }
  }, deps);
  useEffect(() => {
    run(false);
  }, [run]);
  const reload = useCallback(() => run(true), [run]);
  return {
    ...state,
    reload,
    setData: (data) => setState({ data, error: null, loading: false }),
  };
}

/** Runs an action, tracking whether it is busy and what went wrong. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

async function writeClipboard(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Denied (no permission, no focus): fall back to a selection copy.
    }
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}

/** A button that copies `text`, saying so when it has. */
export function CopyButton({ text, label }) {
  const [done, setDone] = useState('');
  const copy = async () => {
    const ok = await writeClipboard(text);
    setDone(ok ? 'Copied' : 'Copy failed: select the text and copy it');
    setTimeout(() => setDone(''), 2500);
  };
  return (
    <span class="copy">
      <button type="button" onClick={copy} disabled={!text}>
        {label}
      </button>
      <span class="copied" role="status" aria-live="polite">
        {done}
      </span>
    </span>
  );
}

/** Downloads `text` as a file (a blob URL, revoked right after). */
export function downloadText(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * A button that asks again before doing something that cannot be undone; `name` is its
 * accessible name when the visible `label` is short ("Revoke" beside a key's id).
 */
export function ConfirmButton({ label, name, confirmLabel, question, onConfirm, busy }) {
  const [asking, setAsking] = useState(false);
  const yes = useRef(null);
  useEffect(() => {
    if (asking && yes.current) yes.current.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" class="danger" aria-label={name} onClick={() => setAsking(true)} disabled={busy}>
        {label}
      </button>
    );
  }
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>{' '}
      <button
        type="button"
        class="danger"
        ref={yes}
        disabled={busy}
        onClick={async () => {
          await onConfirm();
          setAsking(false);
        }}
      >
        {confirmLabel}
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i += 1;
  }
  return `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(secs) {
  const s = Number(secs);
  if (!(s >= 0)) return '–';
  const m = Math.floor(s / 60);
  const r = Math.round(s % 60);
  return `${m}:${String(r).padStart(2, '0')}`;
}

export function formatTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A video's display name: `meta.name`, else its uid. */
export function videoName(v) {
  return (v && v.meta && typeof v.meta.name === 'string' && v.meta.name) || (v && v.uid) || '';
}

/** States in which a video is still on its way to ready. */
export const WORKING = ['pendingupload', 'downloading', 'queued', 'inprogress'];

export function pct(v) {
  const p = Number(v && v.status && v.status.pctComplete);
  return Number.isFinite(p) ? Math.max(0, Math.min(100, p)) : 0;
}
