// A video's captions (WebVTT or SRT per language) and additional audio tracks.
import { useState } from 'preact/hooks';
import { api } from '../api.js';
import { ConfirmButton, ErrorBox, Loading, Status, useAction, useLoad } from '../ui.jsx';

export function Captions({ session, video }) {
  const list = useLoad(async () => (await api(session, 'GET', `/stream/${video.uid}/captions`)).result, [
    session, video.uid,
  ]);
  const [language, setLanguage] = useState('');
  const [file, setFile] = useState(null);
  const [done, setDone] = useState('');
  const act = useAction();
  const upload = (e) => {
    e.preventDefault();
    setDone('');
    const form = e.currentTarget;
    act.run(async () => {
      const lang = language.trim();
      if (!lang) throw new Error('Enter the caption language (a BCP 47 tag such as en or pt-BR).');
      if (!file) throw new Error('Choose a WebVTT (.vtt) or SRT file.');
      const body = new FormData();
      body.append('file', file, file.name);
      await api(session, 'PUT', `/stream/${video.uid}/captions/${encodeURIComponent(lang)}`, { form: body });
      setDone(`Caption ${lang} uploaded`);
      setLanguage('');
      setFile(null);
      form.reset();
      await list.reload();
    });
  };
  const remove = (lang) =>
    act.run(async () => {
      await api(session, 'DELETE', `/stream/${video.uid}/captions/${encodeURIComponent(lang)}`);
      setDone(`Caption ${lang} deleted`);
      await list.reload();
    });
  return (
    <section class="card" aria-labelledby="cap-h">
      <h2 id="cap-h">Captions</h2>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        list.data.length ? (
          <ul class="items" aria-label="Captions">
            {list.data.map((c) => (
              <li key={c.language}>
                <span>
                  <strong>{c.label}</strong> <code>{c.language}</code> <span class="muted">{c.status}</span>
                </span>
                <ConfirmButton
                  label="Delete"
                  name={`Delete caption ${c.language}`}
                  confirmLabel="Delete"
                  question={`Delete the ${c.label} captions?`}
                  onConfirm={() => remove(c.language)}
                  busy={act.busy}
                />
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">No captions.</p>
        )
      ) : null}
      <form onSubmit={upload}>
        <div class="field">
          <label for="cap-lang">Caption language</label>
          <input id="cap-lang" placeholder="en" value={language} onInput={(e) => setLanguage(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="cap-file">Caption file (.vtt or .srt)</label>
          <input
            id="cap-file"
            type="file"
            accept=".vtt,.srt,text/vtt"
            onChange={(e) => setFile(e.currentTarget.files?.[0] || null)}
          />
        </div>
        <button type="submit" disabled={act.busy}>
          Upload caption
        </button>
        <ErrorBox error={act.error} />
        <Status text={done} />
      </form>
    </section>
  );
}

export function AudioTracks({ session, video }) {
  const list = useLoad(async () => (await api(session, 'GET', `/stream/${video.uid}/audio`)).result, [
    session, video.uid,
  ]);
  const [label, setLabel] = useState('');
  const [url, setUrl] = useState('');
  const [done, setDone] = useState('');
  const act = useAction();
  const add = (e) => {
    e.preventDefault();
    setDone('');
    act.run(async () => {
      await api(session, 'POST', `/stream/${video.uid}/audio/copy`, {
        json: { label: label.trim(), url: url.trim() },
      });
      setDone(`Audio track ${label.trim()} added`);
      setLabel('');
      setUrl('');
      await list.reload();
    });
  };
  const remove = (t) =>
    act.run(async () => {
      await api(session, 'DELETE', `/stream/${video.uid}/audio/${t.uid}`);
      setDone(`Audio track ${t.label} deleted`);
      await list.reload();
    });
  return (
    <section class="card" aria-labelledby="audio-h">
      <h2 id="audio-h">Audio tracks</h2>
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? <Loading /> : null}
      {list.data ? (
        list.data.length ? (
          <ul class="items" aria-label="Audio tracks">
            {list.data.map((t) => (
              <li key={t.uid}>
                <span>
                  <strong>{t.label}</strong> <span class="muted">{t.status}{t.default ? ', default' : ''}</span>
                </span>
                <ConfirmButton
                  label="Delete"
                  name={`Delete audio track ${t.label}`}
                  confirmLabel="Delete"
                  question={`Delete the ${t.label} audio track?`}
                  onConfirm={() => remove(t)}
                  busy={act.busy}
                />
              </li>
            ))}
          </ul>
        ) : (
          <p class="muted">Only the video's own audio.</p>
        )
      ) : null}
      <form onSubmit={add}>
        <div class="field">
          <label for="audio-label">Track label</label>
          <input id="audio-label" placeholder="Director's commentary" value={label} onInput={(e) => setLabel(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="audio-url">Audio file URL</label>
          <input id="audio-url" type="url" placeholder="https://example.com/commentary.m4a" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </div>
        <button type="submit" disabled={act.busy}>
          Add audio track
        </button>
        <ErrorBox error={act.error} />
        <Status text={done} />
      </form>
    </section>
  );
}
