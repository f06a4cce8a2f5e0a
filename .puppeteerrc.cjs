// Puppeteer must not download a browser (no network here, and Debian ships Chromium).
// Tests and benchmarks launch /usr/bin/chromium, overridable with WGTRAIN_CHROMIUM.
module.exports = { skipDownload: true };
