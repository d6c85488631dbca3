// Live updates: GET /events/stream through EventSource (the session cookie goes with
// it; EventSource resumes with Last-Event-ID by itself after a drop). Each named
// event is a CloudEvents type; subscribers get (type, cloudEvent).

export const EVENT_TYPES = [
  'com.parley.discussion.created.v1',
  'com.parley.discussion.deleted.v1',
  'com.parley.discussion.status_changed.v1',
  'com.parley.discussion.read_changed.v1',
  'com.parley.discussion.tags_changed.v1',
  'com.parley.discussion.merchant_ticket_changed.v1',
  'com.parley.message.received.v1',
  'com.parley.message.sent.v1',
  'com.parley.attachment.stored.v1',
  'com.parley.delivery.queued.v1',
  'com.parley.delivery.sent.v1',
  'com.parley.delivery.failed.v1',
  'com.parley.delivery.unknown.v1',
  'com.parley.autoresponse.sent.v1',
  'com.parley.connection.health_changed.v1',
  'reset',
];

const subscribers = new Set();
let source = null;

/** Starts (or restarts) the stream; `onState` gets connecting | live | offline. */
export function startLive(onState) {
  stopLive();
  source = new EventSource('/events/stream', {withCredentials: true});
  onState('connecting');
  source.onopen = () => onState('live');
  source.onerror = () => onState(source && source.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
  const dispatch = (event) => {
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = null;
    }
    for (const fn of subscribers) fn(event.type, data);
  };
  for (const type of EVENT_TYPES) source.addEventListener(type, dispatch);
  source.onmessage = dispatch;
}

export function stopLive() {
  if (source) source.close();
  source = null;
}

/** Subscribes; answers the unsubscribe function. */
export function onLiveEvent(fn) {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

/** The discussion id an event is about (every discussion event carries it), or null. */
export function discussionIdOf(cloudEvent) {
  return (cloudEvent && cloudEvent.data && cloudEvent.data.discussion_id) || null;
}
