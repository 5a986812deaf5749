// Attachments and voice messages (issue 16): the customer sends a photo and a voice message from the
// chat, the admin sees the thumbnail live, opens the full image, and plays the recording; a refused
// upload shows the API's message beside its preview on a phone-wide page.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync } from "node:zlib";
import { after, before, describe } from "node:test";
import {
  Stack,
  adminToken,
  eventually,
  expectOneMessage,
  freshBooking,
  listMessages,
  messageItems,
  messagesLog,
  openConversation,
  openFromInbox,
  uiTest,
  uniq,
} from "./harness.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURE = path.resolve(HERE, "..", "..", "tests", "fixtures", "attachments", "photo.jpg");

let stack;
const S = () => stack;

before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.close();
});

// ---------------------------------------------------------------------------------------------
// A PNG made here: `width`×`height`, RGB, a gradient (so it is not one flat colour).

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((255 * x) / width);
      raw[row + 2 + x * 3] = Math.round((255 * y) / height);
      raw[row + 3 + x * 3] = 160;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** The photo to send: the repository's fixture when there is one, else a PNG made here. */
function photo() {
  if (existsSync(FIXTURE)) return { name: "photo.jpg", mimeType: "image/jpeg", buffer: readFileSync(FIXTURE) };
  return { name: "photo.png", mimeType: "image/png", buffer: png(640, 480) };
}

/** The size of an image file, read from its header (PNG IHDR or a JPEG SOF marker). */
function imageSize(buffer) {
  if (buffer.readUInt32BE(0) === 0x89504e47) return [buffer.readUInt32BE(16), buffer.readUInt32BE(20)];
  let i = 2;
  while (i < buffer.length) {
    const marker = buffer[i + 1];
    const len = buffer.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return [buffer.readUInt16BE(i + 7), buffer.readUInt16BE(i + 5)];
    }
    i += 2 + len;
  }
  throw new Error("no image size in the fixture");
}

// ---------------------------------------------------------------------------------------------

async function customerAndAdmin(st, label, customerOptions = {}) {
  const node = st.node;
  const b = await freshBooking(node, label);
  const conv = await openConversation(node, b.customer, b.booking);
  const customer = await st.newPage(node.chatUrl(b.booking, b.customer), customerOptions);
  await customer.getByRole("textbox", { name: "Message", exact: true }).waitFor();
  const admin = await st.newPage(node.inboxUrl(adminToken()));
  await openFromInbox(admin, b.title);
  return { b, conv, customer, admin };
}

/** Picks files through the button "Attach file" (its hidden file input). */
async function attach(page, files) {
  const [chooser] = await Promise.all([
    page.waitForEvent("filechooser"),
    page.getByRole("button", { name: "Attach file", exact: true }).click(),
  ]);
  assert.equal(chooser.isMultiple(), true, "several files can be picked at once");
  await chooser.setFiles(files);
}

const tray = (page) => page.getByRole("list", { name: "Attachments to send", exact: true });

describe("attachments", () => {
  uiTest(
    S,
    "a photo and a voice message from the customer reach the admin live: thumbnail, full image, playable audio",
    async (st) => {
      const { conv, customer, admin } = await customerAndAdmin(st, "bk_attach");
      const file = photo();
      const [width, height] = imageSize(file.buffer);

      // The customer attaches the photo: a preview in the tray, uploading, then ready.
      await attach(customer, file);
      const pending = tray(customer).getByRole("listitem").filter({ hasText: file.name });
      await pending.waitFor();
      await pending.getByText("Ready", { exact: true }).waitFor({ timeout: 15_000 });
      const send = customer.getByRole("button", { name: "Send", exact: true });
      assert.equal(await send.isEnabled(), true, "Send is enabled once the upload is done");

      const caption = `Our view from the room ${uniq("m")}`;
      const box = customer.getByRole("textbox", { name: "Message", exact: true });
      await box.fill(caption);
      await box.press("Enter");
      await tray(customer).waitFor({ state: "detached" });

      // The admin sees it live: a thumbnail that loaded, sized before it loads.
      const atAdmin = await expectOneMessage(admin, caption, { timeout: 15_000 });
      const open = atAdmin.getByRole("link", { name: `Open image ${file.name}`, exact: true });
      const thumb = open.locator("img");
      await eventually(async () => {
        assert.ok((await thumb.evaluate((img) => img.naturalWidth)) > 0, "the thumbnail loaded");
      }, { timeout: 15_000 });
      const attrs = await thumb.evaluate((img) => [img.getAttribute("width"), img.getAttribute("height")]);
      assert.ok(attrs[0] && attrs[1], `the thumbnail has width and height attributes (${attrs})`);
      assert.ok(
        Math.abs(Number(attrs[0]) / Number(attrs[1]) - width / height) < 0.05,
        `the thumbnail keeps the photo's aspect ratio (${attrs} for ${width}×${height})`,
      );

      // Opening it shows the full image.
      await open.click();
      const dialog = admin.getByRole("dialog", { name: file.name, exact: true });
      await dialog.waitFor();
      const full = dialog.getByRole("img", { name: file.name, exact: true });
      await eventually(async () => {
        assert.deepEqual(await full.evaluate((img) => [img.naturalWidth, img.naturalHeight]), [width, height]);
      }, { timeout: 15_000 });
      await dialog.getByRole("button", { name: "Close", exact: true }).click();
      await dialog.waitFor({ state: "hidden" });

      // The customer's own copy shows the photo too, and nothing is left sending.
      const mine = await expectOneMessage(customer, caption);
      await mine.getByRole("link", { name: `Open image ${file.name}`, exact: true }).waitFor();
      await eventually(async () => assert.equal(await messageItems(customer, "Sending…").count(), 0));

      // A voice message: about 1.5 s from the fake microphone, then Stop; it waits in the tray.
      await customer.getByRole("button", { name: "Record voice message", exact: true }).click();
      const stop = customer.getByRole("button", { name: "Stop recording", exact: true });
      await stop.waitFor();
      await customer.getByText(/^Recording \d+:\d\d$/).waitFor();
      await customer.waitForTimeout(1500);
      await stop.click();
      const voice = tray(customer).getByRole("listitem").filter({ hasText: /voice-\d{8}-\d{6}\.(webm|ogg|m4a)/ });
      await voice.waitFor();
      await voice.getByText("Ready", { exact: true }).waitFor({ timeout: 15_000 });
      await customer.getByRole("button", { name: "Send", exact: true }).click();
      await tray(customer).waitFor({ state: "detached" });

      // The server stored it as a file message whose attachment is audio.
      const stored = await eventually(async () => {
        const messages = await listMessages(st.node, adminToken(), conv.id);
        const found = messages.find((m) => m.attachments?.some((a) => a.mimetype.startsWith("audio/")));
        assert.ok(found, "a message with an audio attachment is stored");
        return found;
      });
      assert.equal(stored.messageType, "file");
      assert.equal(stored.content, "");
      assert.match(stored.attachments[0].filename, /^voice-\d{8}-\d{6}\.(webm|ogg|m4a)$/);

      // The admin plays it.
      // (An <audio> has no role; the log holds just this one.)
      const audio = messagesLog(admin).locator("audio");
      await audio.waitFor({ timeout: 15_000 });
      assert.match(await audio.getAttribute("aria-label"), /^Voice message/);
      await audio.evaluate((a) => {
        a.muted = true;
        a.preload = "auto";
      });
      await eventually(async () => {
        assert.ok((await audio.evaluate((a) => a.readyState)) >= 2, "the recording loaded");
      }, { timeout: 15_000 });
      await audio.evaluate((a) => a.play());
      await eventually(async () => {
        const t = await audio.evaluate((a) => a.currentTime);
        assert.ok(t > 0.2, `the recording plays (currentTime ${t})`);
      }, { timeout: 10_000 });
      assert.equal(await audio.evaluate((a) => a.error), null, "no media error");
    },
    { timeout: 120_000 },
  );

  uiTest(S, "a refused upload shows the API's message beside its preview, and Remove takes it away (360 px phone)", async (st) => {
    const { customer } = await customerAndAdmin(st, "bk_refused", { viewport: { width: 360, height: 740 } });
    await attach(customer, {
      name: "setup.exe",
      mimeType: "application/x-msdownload",
      buffer: Buffer.concat([Buffer.from("MZ"), Buffer.alloc(2048, 7)]),
    });
    const item = tray(customer).getByRole("listitem").filter({ hasText: "setup.exe" });
    const alert = item.getByRole("alert");
    await alert.waitFor({ timeout: 15_000 });
    assert.match(await alert.innerText(), /^Not uploaded: \S/, "the API's message stands next to the file");
    assert.equal(
      await customer.getByRole("button", { name: "Send", exact: true }).isEnabled(),
      true,
      "a failed upload does not hold Send back",
    );
    const overflow = await customer.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the 360 px page does not scroll sideways (${overflow} px too wide)`);

    await item.getByRole("button", { name: "Remove setup.exe", exact: true }).click();
    await tray(customer).waitFor({ state: "detached" });
  });

  uiTest(S, "files dropped on the conversation and images pasted into the message box join the attachments", async (st) => {
    const { customer } = await customerAndAdmin(st, "bk_drop");
    const image = png(40, 30).toString("base64");
    // What a drag from the desktop and a pasted screenshot deliver: a DataTransfer holding files.
    await customer.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dropped = new DataTransfer();
      dropped.items.add(new File(["Dinner at 8"], "note.txt", { type: "text/plain" }));
      dropped.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
      const log = document.querySelector('[role="log"]');
      log.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: dropped }));
      log.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: dropped }));
      const pasted = new DataTransfer();
      pasted.items.add(new File([bytes], "image.png", { type: "image/png" }));
      const box = document.querySelector('textarea[aria-label="Message"]');
      box.dispatchEvent(new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: pasted }));
    }, image);
    const names = tray(customer).getByRole("listitem");
    await eventually(async () => {
      const texts = await names.allInnerTexts();
      assert.equal(texts.length, 3, `three files wait: ${JSON.stringify(texts)}`);
      for (const [i, name] of ["note.txt", "dropped.png", "image.png"].entries()) {
        assert.ok(texts[i].includes(name), `${name} is in the tray (${texts[i]})`);
      }
    });
    for (const name of ["note.txt", "dropped.png", "image.png"]) {
      await tray(customer).getByRole("button", { name: `Remove ${name}`, exact: true }).click();
    }
    await tray(customer).waitFor({ state: "detached" });
  });

  uiTest(S, "Send waits for an upload in progress; a file arrives as a download link with its size", async (st) => {
    const { customer, admin } = await customerAndAdmin(st, "bk_slow");
    // Uploads at 64 KB/s (Chromium's network emulation), so 256 KB take about 4 s.
    const cdp = await customer.context().newCDPSession(customer);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 20,
      downloadThroughput: -1,
      uploadThroughput: 64 * 1024,
    });
    const caption = `The guest list ${uniq("m")}`;
    const box = customer.getByRole("textbox", { name: "Message", exact: true });
    await box.fill(caption);
    await attach(customer, { name: "guests.txt", mimeType: "text/plain", buffer: Buffer.from("Ann\n".repeat(64 * 1024)) });

    const bar = customer.getByRole("progressbar", { name: "Uploading guests.txt", exact: true });
    await bar.waitFor();
    const send = customer.getByRole("button", { name: "Send", exact: true });
    assert.equal(await send.isDisabled(), true, "Send is disabled while the file uploads");
    await customer.getByText("Send waits for the uploads to finish.", { exact: true }).waitFor();
    const first = Number(await bar.getAttribute("value"));
    await eventually(async () => {
      const now = Number(await bar.getAttribute("value"));
      assert.ok(now > first, `the progress moves (${first} → ${now})`);
    });
    await box.press("Enter");
    assert.equal(await messageItems(customer, caption).count(), 0, "Enter does not send before the upload is done");

    await tray(customer).getByText("Ready", { exact: true }).waitFor({ timeout: 20_000 });
    await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    assert.equal(await send.isEnabled(), true);
    await send.click();

    const atAdmin = await expectOneMessage(admin, caption, { timeout: 15_000 });
    const link = atAdmin.getByRole("link", { name: "guests.txt", exact: true });
    await link.waitFor();
    assert.match(await atAdmin.innerText(), /guests\.txt \(256 KB\)/);
    const href = await link.getAttribute("href");
    assert.match(href, /^\/messaging\/attachments\/[0-9A-Z]{26}\?/, "a signed same-origin URL");
    const res = await fetch(st.node.url(href));
    assert.equal(res.status, 200, "the signed URL needs no token");
    assert.equal((await res.arrayBuffer()).byteLength, 256 * 1024);
  });
});
