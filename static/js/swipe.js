// Swipe left / right on an element with pointer events (touch, pen, or a mouse drag); no library.
// The element should have `touch-action: pan-y` so the browser keeps vertical scrolling and leaves
// horizontal moves to us (otherwise it takes them over and sends pointercancel).

const MIN_DISTANCE = 48; // px of sideways travel that make a swipe
const MAX_SLOPE = 0.7; // |dy| / |dx| above this is a scroll or a shaky tap, not a swipe

/**
 * Call onLeft() or onRight() when a sideways swipe ends on element; while the finger moves, the CSS
 * variable --swipe-x on element follows it (px), so the page can slide the picture along.
 */
export function onSwipe(element, { onLeft, onRight }) {
  let start = null;
  const follow = (dx) => element.style.setProperty('--swipe-x', `${dx}px`);
  const reset = () => {
    start = null;
    element.classList.remove('is-swiping');
    follow(0);
  };
  element.addEventListener('pointerdown', (event) => {
    if (!event.isPrimary || (event.pointerType === 'mouse' && event.button !== 0)) return;
    start = { id: event.pointerId, x: event.clientX, y: event.clientY };
  });
  element.addEventListener('pointermove', (event) => {
    if (!start || event.pointerId !== start.id) return;
    const dx = event.clientX - start.x;
    if (Math.abs(dx) > Math.abs(event.clientY - start.y)) {
      element.classList.add('is-swiping');
      follow(dx);
    }
  });
  element.addEventListener('pointerup', (event) => {
    if (!start || event.pointerId !== start.id) return;
    const dx = event.clientX - start.x;
    const dy = event.clientY - start.y;
    reset();
    if (Math.abs(dx) < MIN_DISTANCE || Math.abs(dy) > Math.abs(dx) * MAX_SLOPE) return;
    if (dx < 0) onLeft();
    else onRight();
  });
  element.addEventListener('pointercancel', reset);
  element.addEventListener('lostpointercapture', (event) => {
    if (start && event.pointerId === start.id) reset();
  });
}
