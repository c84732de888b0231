// The test page's driver: JsSIP and SIP.js user agents, driven by
// rfc3261/tests/test_browser_websocket.py through Playwright's page.evaluate.
// Each UA is named; what happens to it is appended to sipref.events[name] as
// short strings ("registered", "incoming", "confirmed", "ended", "message:TEXT"),
// which the test polls.  Media: Chromium's fake audio device
// (--use-fake-device-for-media-stream --use-fake-ui-for-media-stream).

const sipref = {
  agents: {},
  sessions: {},
  events: {},
  sockets: {},
};
window.sipref = sipref;

function note(name, what) {
  (sipref.events[name] = sipref.events[name] || []).push(what);
}

// Keep the WebSocket objects the stacks open, so a test can drop one abruptly.
const NativeWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const socket = new NativeWebSocket(url, protocols);
  sipref.lastSocket = socket;
  return socket;
};
window.WebSocket.prototype = NativeWebSocket.prototype;
Object.assign(window.WebSocket, {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
});

const MEDIA = { audio: true, video: false };

// -- JsSIP ---------------------------------------------------------------------------

sipref.jssip = function (name, wsUri, user, domain) {
  return new Promise((resolve, reject) => {
    const socket = new JsSIP.WebSocketInterface(wsUri);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${user}@${domain}`,
      register: true,
      register_expires: 600,
      session_timers: false,
      connection_recovery_min_interval: 60,
      connection_recovery_max_interval: 60,
    });
    sipref.agents[name] = { kind: "jssip", ua };
    ua.on("connected", () => {
      sipref.sockets[name] = sipref.lastSocket;
    });
    ua.on("registered", () => {
      note(name, "registered");
      resolve("registered");
    });
    ua.on("registrationFailed", (e) => {
      note(name, `registrationFailed:${e.cause}`);
      reject(new Error(`registration failed: ${e.cause}`));
    });
    ua.on("newRTCSession", (e) => {
      const session = e.session;
      sipref.sessions[name] = session;
      session.on("confirmed", () => note(name, "confirmed"));
      session.on("ended", (ev) => note(name, `ended:${ev.originator}`));
      session.on("failed", (ev) => note(name, `failed:${ev.cause}`));
      if (e.originator === "remote") {
        note(name, "incoming");
        session.answer({ mediaConstraints: MEDIA });
      }
    });
    ua.on("newMessage", (e) => {
      if (e.originator === "remote") {
        note(name, `message:${e.request.body}`);
      }
    });
    ua.start();
  });
};

// -- SIP.js --------------------------------------------------------------------------

sipref.sipjs = async function (name, wsUri, user, domain) {
  const options = { sessionDescriptionHandlerOptions: { constraints: MEDIA } };
  const ua = new SIP.UserAgent({
    uri: SIP.UserAgent.makeURI(`sip:${user}@${domain}`),
    transportOptions: { server: wsUri },
    logLevel: "warn",
    delegate: {
      onInvite(invitation) {
        note(name, "incoming");
        sipref.sessions[name] = invitation;
        watchSipjs(name, invitation);
        invitation.accept(options);
      },
      onMessage(message) {
        note(name, `message:${message.request.body}`);
        message.accept();
      },
    },
  });
  sipref.agents[name] = { kind: "sipjs", ua, options };
  await ua.start();
  sipref.sockets[name] = sipref.lastSocket;
  const registerer = new SIP.Registerer(ua, { expires: 600 });
  sipref.agents[name].registerer = registerer;
  await new Promise((resolve, reject) => {
    registerer.stateChange.addListener((state) => {
      if (state === SIP.RegistererState.Registered) {
        note(name, "registered");
        resolve();
      }
    });
    registerer.register({
      requestDelegate: {
        onReject(response) {
          reject(new Error(`registration failed: ${response.message.statusCode}`));
        },
      },
    });
  });
  return "registered";
};

function watchSipjs(name, session) {
  session.stateChange.addListener((state) => {
    if (state === SIP.SessionState.Established) note(name, "confirmed");
    if (state === SIP.SessionState.Terminated) note(name, "ended");
  });
}

// -- actions on either stack -----------------------------------------------------------

sipref.call = function (name, target) {
  const agent = sipref.agents[name];
  if (agent.kind === "jssip") {
    agent.ua.call(target, { mediaConstraints: MEDIA });
    return "calling";
  }
  const inviter = new SIP.Inviter(agent.ua, SIP.UserAgent.makeURI(target), agent.options);
  sipref.sessions[name] = inviter;
  watchSipjs(name, inviter);
  inviter.invite();
  return "calling";
};

sipref.hangup = function (name) {
  const agent = sipref.agents[name];
  const session = sipref.sessions[name];
  if (agent.kind === "jssip") {
    session.terminate();
  } else {
    session.bye();
  }
  return "hangup";
};

sipref.message = function (name, target, text) {
  const agent = sipref.agents[name];
  if (agent.kind === "jssip") {
    return new Promise((resolve, reject) => {
      agent.ua.sendMessage(target, text, {
        eventHandlers: {
          succeeded: () => resolve("sent"),
          failed: (e) => reject(new Error(`MESSAGE failed: ${e.cause}`)),
        },
      });
    });
  }
  const messager = new SIP.Messager(agent.ua, SIP.UserAgent.makeURI(target), text);
  return new Promise((resolve, reject) => {
    messager.message({
      requestDelegate: {
        onAccept: () => resolve("sent"),
        onReject: (r) => reject(new Error(`MESSAGE failed: ${r.message.statusCode}`)),
      },
    });
  });
};

// Drop the stack's WebSocket as a closing tab would (no BYE, no REGISTER expires=0).
sipref.drop = function (name) {
  sipref.sockets[name].close();
  return "dropped";
};
