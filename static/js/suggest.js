// Instant suggestions on the pages: the guess a photo shows, the accept rate, noticing a fresher round.

import { get } from './api.js';
import { percent } from './dom.js';

/**
 * The guess to show for a photo: the instant suggestion (trained on the labels as they are now), else the
 * active model's prediction; null when there is neither.
 */
export function guessOf(photo) {
  if (!photo) return null;
  if (photo.suggestion) return { ...photo.suggestion, source: 'suggestion' };
  if (photo.prediction) return { label: photo.prediction.label, confidence: photo.prediction.confidence, source: 'model' };
  return null;
}

/** "beer? 87 %": a guess, said as a question. */
export function guessText(guess) {
  return `${guess.label}? ${percent(guess.confidence).replace('%', ' %')}`;
}

/** "Suggestions accepted unchanged: 12 of 15 (80 %)", or what is missing before there are any. */
export function rateText(summary) {
  if (!summary) return '';
  const reviewed = summary.accepted + summary.changed;
  if (summary.state.status !== 'ready' && !reviewed) {
    return 'Suggestions start once two classes have two labeled photos each.';
  }
  if (!reviewed) return 'Suggestions are on: none accepted or changed yet.';
  const rate = percent(summary.accept_rate).replace('%', ' %');
  return `Suggestions accepted unchanged: ${summary.accepted} of ${reviewed} (${rate}).`;
}

/**
 * Watch the suggestion rounds after labels change: `onFresh(summary, newer)` gets every summary read, newer
 * true when the worker finished a round since the last one. Reads a few times after each change, then rests.
 */
export function watchSuggestions(onFresh, { delays = [800, 1600, 3000, 6000] } = {}) {
  let seen = null;
  let timers = [];
  async function read() {
    try {
      const summary = await get('/api/v1/suggestions');
      const stamp = summary.state.updated_at;
      const newer = seen !== null && stamp !== null && stamp !== seen;
      if (stamp !== null) seen = stamp;
      onFresh(summary, newer);
    } catch {
      // The labels are saved either way; the next change asks again.
    }
  }
  function changed() {
    for (const timer of timers) window.clearTimeout(timer);
    timers = delays.map((ms) => window.setTimeout(read, ms));
  }
  read();
  return { changed, read };
}
