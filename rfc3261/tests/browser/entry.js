// The page's bundle: both browser SIP stacks as globals (built by the test with esbuild).
import JsSIP from "jssip";
import * as SIP from "sip.js";

window.JsSIP = JsSIP;
window.SIP = SIP;
