// A Foxglove client built on Foxglove's own library (@foxglove/ws-protocol, with the `ws`
// WebSocket and @foxglove/rosmsg2-serialization for CDR), as a viewer app uses it. Run by
// test/live_view/test_foxglove_node_client.py:
//
//   node watch_and_publish.mjs <ws url> <image topic> <instruction topic>
//
// Subscribes to the image topic and its /compressed copy, decodes one of each with the schema
// the server advertised, then publishes on the instruction topic: first with a wrong type
// (the server must refuse it and say why in a status message), then a std_msgs/String. Prints
// one JSON object per line for the test to check; exits 1 on a timeout.
import { createHash } from "node:crypto";

import { parse } from "@foxglove/rosmsg";
import { MessageReader, MessageWriter } from "@foxglove/rosmsg2-serialization";
import wsProtocol from "@foxglove/ws-protocol"; // CommonJS: no named exports under Node
import WebSocket from "ws";

const { FoxgloveClient } = wsProtocol;

const [url, imageTopic, instructionTopic] = process.argv.slice(2);
const TIMEOUT_MS = 60000;
// foxglove-sdk's server accepts only the newer subprotocol name (the library's default,
// FoxgloveClient.SUPPORTED_SUBPROTOCOL, is the older foxglove.websocket.v1).
const SUBPROTOCOL = "foxglove.sdk.v1";
const STRING_DEFINITION = "string data";

const say = (event) => console.log(JSON.stringify(event));
const timer = setTimeout(() => {
  say({ event: "timeout" });
  process.exit(1);
}, TIMEOUT_MS);

const client = new FoxgloveClient({ ws: new WebSocket(url, [SUBPROTOCOL]) });
const readers = new Map(); // subscription id -> { topic, reader }
const decoded = new Map(); // topic -> what was decoded
let published = false;

client.on("serverInfo", (info) => say({ event: "serverInfo", name: info.name,
                                        capabilities: info.capabilities,
                                        encodings: info.supportedEncodings }));
client.on("advertise", (channels) => {
  for (const channel of channels) {
    if (channel.topic !== imageTopic && channel.topic !== `${imageTopic}/compressed`) {
      continue;
    }
    say({ event: "channel", topic: channel.topic, encoding: channel.encoding,
          schemaName: channel.schemaName, schemaEncoding: channel.schemaEncoding });
    const reader = new MessageReader(parse(channel.schema, { ros2: true }));
    readers.set(client.subscribe(channel.id), { topic: channel.topic, reader });
  }
});
client.on("message", ({ subscriptionId, data }) => {
  const { topic, reader } = readers.get(subscriptionId);
  if (decoded.has(topic)) {
    return;
  }
  const message = reader.readMessage(data);
  const bytes = Buffer.from(message.data);
  const stamp = [message.header.stamp.sec, message.header.stamp.nanosec];
  if (topic === imageTopic) {
    decoded.set(topic, { event: "image", stamp, height: message.height, width: message.width,
                         encoding: message.encoding, step: message.step,
                         sha256: createHash("sha256").update(bytes).digest("hex") });
  } else {
    decoded.set(topic, { event: "compressed", stamp, format: message.format,
                         bytes: bytes.length, head: [...bytes.subarray(0, 3)] });
  }
  say(decoded.get(topic));
  if (decoded.size === 2 && !published) {
    published = true;
    publish();
  }
});
client.on("status", (status) => {
  say({ event: "status", level: status.level, message: status.message });
  if (status.message.includes("message refused")) {
    const writer = new MessageWriter(parse(STRING_DEFINITION, { ros2: true }));
    const channel = client.advertise({ topic: instructionTopic, encoding: "cdr",
                                       schemaName: "std_msgs/msg/String" });
    setTimeout(() => {
      client.sendMessage(channel, writer.writeMessage({ data: "from node" }));
      say({ event: "published", topic: instructionTopic, data: "from node" });
      setTimeout(() => {
        clearTimeout(timer);
        client.close();
      }, 500);
    }, 300); // the server learns the channel before its data
  }
});
client.on("error", (error) => {
  say({ event: "error", message: String(error) });
  process.exit(1);
});

function publish() {
  // A wrong type first: an Action-shaped message on the instruction topic.
  const wrong = client.advertise({ topic: instructionTopic, encoding: "cdr",
                                   schemaName: "nanobot_msgs/msg/Action" });
  const writer = new MessageWriter(parse(STRING_DEFINITION, { ros2: true }));
  setTimeout(() => client.sendMessage(wrong, writer.writeMessage({ data: "wrong" })), 300);
}
