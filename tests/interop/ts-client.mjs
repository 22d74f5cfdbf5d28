// Drives `mcp-host serve` with the official TypeScript SDK client and prints what it saw as one
// JSON object, for tests/transports/test_typescript.py to check. Arguments: the command to
// start the host (stdio), or `http URL` (Streamable HTTP) or `sse URL` (HTTP+SSE).
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import {
  ElicitRequestSchema,
  CreateMessageRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";

const [command, ...args] = process.argv.slice(2);
let transport;
if (command === "http") {
  transport = new StreamableHTTPClientTransport(new URL(args[0]));
} else if (command === "sse") {
  transport = new SSEClientTransport(new URL(args[0]));
} else {
  transport = new StdioClientTransport({ command, args, env: process.env, stderr: "inherit" });
}
const client = new Client(
  { name: "ts-interop", version: "1.0.0" },
  { capabilities: { elicitation: {}, sampling: {}, roots: {} } },
);
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push(n.params.data); });
client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Grace" } }));
client.setRequestHandler(CreateMessageRequestSchema, async () => ({
  role: "assistant", model: "ts-model", content: { type: "text", text: "Cirrus" },
}));
client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: "file:///ts", name: "ts" }] }));

await client.connect(transport);
const out = { version: client.getServerVersion(), capabilities: client.getServerCapabilities() };
const tools = [];
let cursor;
do {
  const page = await client.listTools(cursor ? { cursor } : {});
  tools.push(...page.tools.map((t) => t.name));
  cursor = page.nextCursor;
} while (cursor);
out.tools = tools;
out.greet = await client.callTool({ name: "greet", arguments: { name: "Lin" } });
out.invalid = await client.callTool({ name: "add", arguments: { a: 1 } });
const progress = [];
// The SDK dispatches notifications asynchronously and forgets a request's progress handler
// when its response arrives, so steps are spaced for every notification to be seen.
out.countDown = await client.callTool(
  { name: "count_down", arguments: { start: 2, delay: 0.05 } },
  undefined,
  { onprogress: (p) => progress.push([p.progress, p.total]) },
);
out.progress = progress;
out.logs = logs;
out.note = await client.readResource({ uri: "note://welcome" });
out.templates = await client.listResourceTemplates();
out.prompt = await client.getPrompt({ name: "introduce", arguments: { name: "Lin" } });
out.completion = await client.complete({
  ref: { type: "ref/prompt", name: "introduce" }, argument: { name: "tone", value: "p" },
});
out.elicit = await client.callTool({ name: "greet_me", arguments: {} });
out.sample = await client.callTool({ name: "suggest_name", arguments: { topic: "a cloud" } });
out.roots = await client.callTool({ name: "workspace", arguments: {} });
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
  out.unknownTool = "no error";
} catch (error) {
  out.unknownTool = { code: error.code, message: error.message };
}
await client.close();
console.log(JSON.stringify(out));
