// Uploading: a file input labelled "Upload video" and a drop zone around it; each file
// goes up with tus (progress, pause, resume), and an upload interrupted by a reload
// resumes when the same file is chosen again.
import { useEffect, useState } from 'preact/hooks';
import { startUpload, unfinishedUploads } from '../upload.js';
import { formatBytes } from '../ui.jsx';

let nextId = 1;

function UploadRow({ item, onChange }) {
  const pctDone = item.total ? (100 * item.sent) / item.total : 0;
  return (
    <li class={`upload upload-${item.phase}`} data-name={item.name} data-resumed={item.resumed ? 'true' : undefined}>
      <span class="upload-name">{item.name}</span>
      <progress max="100" value={pctDone} aria-label={`Uploading ${item.name}`}>
        {pctDone.toFixed(0)}%
      </progress>
      <span class="muted" role="status" aria-live="polite">
        {item.phase === 'done'
          ? 'Uploaded, processing'
          : item.phase === 'error'
            ? ''
            : `${pctDone.toFixed(0)}% of ${formatBytes(item.total)}${item.phase === 'paused' ? ' (paused)' : ''}${item.resumed ? ' (resumed)' : ''}`}
      </span>
      {item.phase === 'uploading' ? (
        <button type="button" onClick={() => { item.ctl.pause(); onChange({ phase: 'paused' }); }}>
          Pause
        </button>
      ) : null}
      {item.phase === 'paused' ? (
        <button type="button" onClick={() => { item.ctl.resume(); onChange({ phase: 'uploading' }); }}>
          Resume
        </button>
      ) : null}
      {item.phase === 'error' ? (
        <span class="error" role="alert">
          {item.error}
        </span>
      ) : null}
    </li>
  );
}

export function Uploads({ session, onUploaded }) {
  const [items, setItems] = useState([]);
  const [dragging, setDragging] = useState(false);
  const [unfinished, setUnfinished] = useState([]);
  useEffect(() => {
    unfinishedUploads(session).then(setUnfinished);
  }, [session]);

  const update = (id, change) =>
    setItems((all) => all.map((i) => (i.id === id ? { ...i, ...change } : i)));

  const add = (files) => {
    for (const file of files) {
      const id = nextId++;
      const ctl = startUpload(session, file, {
        progress: (sent, total) => update(id, { sent, total }),
        resumed: () => update(id, { resumed: true }),
        success: () => {
          update(id, { phase: 'done', sent: file.size, total: file.size });
          unfinishedUploads(session).then(setUnfinished);
          onUploaded();
        },
        error: (message) => update(id, { phase: 'error', error: message }),
      });
      setItems((all) => [
        ...all,
        { id, name: file.name, sent: 0, total: file.size, phase: 'uploading', ctl },
      ]);
    }
  };

  const onDrop = (e) => {
    e.preventDefault();
    setDragging(false);
    const files = [...(e.dataTransfer?.files || [])];
    if (files.length) add(files);
  };

  return (
    <div
      class={`dropzone${dragging ? ' dragging' : ''}`}
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}
    >
      <label for="upload-input">Upload video</label>
      <input
        id="upload-input"
        type="file"
        accept="video/*,audio/*,.mkv,.mov,.mp4,.webm"
        multiple
        onChange={(e) => {
          const files = [...(e.currentTarget.files || [])];
          e.currentTarget.value = '';
          if (files.length) add(files);
        }}
      />
      <p class="muted">or drop files here. Uploads resume where they stopped.</p>
      {unfinished.length > 0 && items.length === 0 ? (
        <p class="note">
          {unfinished.length === 1 ? 'An upload was' : `${unfinished.length} uploads were`}{' '}
          interrupted ({unfinished.map((u) => u.metadata?.name || 'unnamed').join(', ')}): choose the
          same file again to resume it.
        </p>
      ) : null}
      {items.length ? (
        <ul class="uploads" aria-label="Uploads">
          {items.map((item) => (
            <UploadRow key={item.id} item={item} onChange={(c) => update(item.id, c)} />
          ))}
        </ul>
      ) : null}
    </div>
  );
}
