// A minimal MCP Apps host for the browser tests, built on ext-apps' own host-side AppBridge and the official MCP
// client: it connects to the real server over streamable HTTP (same origin, /mcp), calls a tool, reads the
// tool's ui:// view, renders it in a sandboxed iframe under a default-deny CSP, and relays the view's requests
// (tools/call, ui/message, ui/open-link) through the bridge. Every request the view makes is logged on window.hostLog.
import { AppBridge, PostMessageTransport, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const APP_MIME = "text/html;profile=mcp-app";
// The spec's default for a view that declares no csp domains: nothing from the network, inline code only.
const DEFAULT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
  + "font-src data:; media-src data:; connect-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'";

const log = { calls: [], results: [], messages: [], asked: [], links: [], toolResult: null, resource: null,
  errors: [], ready: false };
window.hostLog = log;

function withCsp(html) {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${DEFAULT_CSP}">`;
  return html.replace(/<head>/i, `<head>${meta}`);
}

// `human`: when given, this host can ask its user (form elicitation) and answers as they would ({action, content});
// without it the host cannot ask, like Claude Desktop today, and the server falls back to its own approval channel.
// `token`: the bearer token of a server that requires sign-in (the approval page link then comes back to the view).
async function start({ tool, args = {}, theme = "light", locale = "en-GB", safeAreaInsets, platform = "web", human,
  token }) {
  const capabilities = { extensions: { "io.modelcontextprotocol/ui": { mimeTypes: [APP_MIME] } } };
  if (human) capabilities.elicitation = { form: {} };
  const client = new Client({ name: "cleavr-test-host", version: "1.0.0" }, { capabilities });
  if (human) {
    client.setRequestHandler("elicitation/create", async (request) => {
      log.asked.push(request.params.message);
      return human.action === "accept" ? { action: "accept", content: human.content } : { action: human.action };
    });
  }
  const requestInit = token ? { headers: { Authorization: `Bearer ${token}` } } : undefined;
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", location.href), { requestInit }));
  const { tools } = await client.listTools();
  const def = tools.find((t) => t.name === tool);
  const uri = getToolUiResourceUri(def);
  const read = await client.readResource({ uri });
  const content = read.contents[0];
  log.resource = { uri, mimeType: content.mimeType, length: content.text.length };
  if (content.mimeType !== APP_MIME) throw new Error(`unexpected MIME type ${content.mimeType}`);
  const result = await client.callTool({ name: tool, arguments: args });
  log.toolResult = result;

  const iframe = document.createElement("iframe");
  iframe.setAttribute("sandbox", "allow-scripts");
  iframe.id = "view";
  document.getElementById("frame").append(iframe);

  const hostContext = { theme, locale, platform, displayMode: "inline", safeAreaInsets,
    toolInfo: { tool: def }, containerDimensions: { maxWidth: iframe.clientWidth } };
  const bridge = new AppBridge(client, { name: "cleavr-test-host", version: "1.0.0" },
    { serverTools: {}, openLinks: {}, logging: {}, message: {} }, { hostContext });
  bridge.onmessage = async (params) => {
    log.messages.push(params);
    return {};
  };
  // ui/open-link: a real host opens the URL in the person's browser; this one records it (the test opens it).
  bridge.onopenlink = async ({ url }) => {
    log.links.push(url);
    return {};
  };
  bridge.onsizechange = ({ height }) => {
    if (height) iframe.style.height = `${Math.ceil(height)}px`;
  };
  bridge.oninitialized = async () => {
    await bridge.sendToolInput({ arguments: args });
    await bridge.sendToolResult(result);
    log.ready = true;
  };
  await bridge.connect(new PostMessageTransport(iframe.contentWindow, iframe.contentWindow));
  // Relay the view's tools/call to the server as the bridge does, logging each request and its answer.
  bridge.oncalltool = async (params) => {
    log.calls.push({ name: params.name, arguments: params.arguments });
    const answer = await client.callTool(params);
    log.results.push(answer);
    return answer;
  };
  iframe.srcdoc = withCsp(content.text);
  window.cleavrBridge = bridge;
  window.setHostTheme = (next) => {
    bridge.setHostContext({ ...hostContext, theme: next });
  };
}

window.startHost = (options) => start(options).catch((err) => {
  log.errors.push(String(err?.stack || err));
  throw err;
});
