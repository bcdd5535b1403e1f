// Debian's chromium is used (CHROME_PATH); puppeteer must never try to download a browser of its own.
module.exports = { skipDownload: true };
