//! Live ingest (SPEC §8): publishers connect over RTMP ([`rtmp`], RTMPS with [`tls`])
//! with a live input's stream key, or over SRT ([`srt`]) with its passphrase;
//! [`ingest`] admits them and runs each broadcast, whose media [`flv`] frames for one
//! ffmpeg per run ([`packager`]) that cuts fMP4 segments with live HLS and DASH
//! playlists; [`receiver`] stores what ffmpeg writes in the blob store, where the edges
//! serve it behind the same access decision as video. [`outputs`] re-streams each
//! broadcast to its simulcast targets.

pub mod flv;
pub mod ingest;
pub mod outputs;
pub mod packager;
pub mod receiver;
pub mod rtmp;
pub mod srt;
pub mod tls;

pub use ingest::{Ingest, IngestConfig, Publisher, Refusal, run_prefix};
