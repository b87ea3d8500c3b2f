// The dashboard: a single page app over the public /client/v4 API (SPEC §10). Screens
// are chosen by the URL's hash (#/videos/{uid}, #/keys, …), which never holds a secret.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { clearSession, loadSession } from './api.js';
import { SignIn } from './screens/SignIn.jsx';
import { Library } from './screens/Library.jsx';
import { VideoPage } from './screens/Video.jsx';
import { Keys } from './screens/Keys.jsx';
import { Webhooks } from './screens/Webhooks.jsx';
import { LiveInputs, LiveInputPage } from './screens/Live.jsx';
import { Analytics } from './screens/Analytics.jsx';

function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return parts.map((p) => decodeURIComponent(p));
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

const NAV = [
  ['', 'Videos'],
  ['live', 'Live inputs'],
  ['analytics', 'Analytics'],
  ['keys', 'Signing keys'],
  ['webhooks', 'Webhooks'],
];

function Screen({ route, session }) {
  const [first, second] = route;
  switch (first) {
    case undefined:
    case 'videos':
      return second ? <VideoPage session={session} uid={second} /> : <Library session={session} />;
    case 'keys':
      return <Keys session={session} />;
    case 'webhooks':
      return <Webhooks session={session} />;
    case 'live':
      return second ? (
        <LiveInputPage session={session} uid={second} />
      ) : (
        <LiveInputs session={session} />
      );
    case 'analytics':
      return <Analytics session={session} />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No such screen. <a href="#/">Back to the videos</a>.
          </p>
        </section>
      );
  }
}

function App() {
  const [session, setSession] = useState(loadSession);
  const route = useRoute();
  const section = route[0] || '';
  useEffect(() => {
    document.title = session ? 'Usher dashboard' : 'Sign in · Usher dashboard';
  }, [session]);
  if (!session) {
    return (
      <main id="main">
        <SignIn onSignIn={setSession} />
      </main>
    );
  }
  const signOut = () => {
    clearSession();
    setSession(null);
    window.location.hash = '';
  };
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => {
        e.preventDefault();
        document.getElementById('main')?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Usher</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([path, label]) => {
              const active = section === path || (path === '' && section === 'videos');
              return (
                <li key={path}>
                  <a href={`#/${path}`} aria-current={active ? 'page' : undefined}>
                    {label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <span class="account" title="Account ID">
          {session.account}
        </span>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Screen route={route} session={session} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
