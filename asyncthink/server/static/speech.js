// Speaking the answer with the browser's own speech (speechSynthesis), sentence by sentence as each
// sentence completes, for the page in app.js. No speech in the browser: no checkbox, nothing spoken.
"use strict";

window.asyncthinkSpeaker = (checkbox) => {
  const synth = window.speechSynthesis;
  const available = Boolean(synth && window.SpeechSynthesisUtterance);
  const SENTENCE = /^([\s\S]*?(?:[.!?\u2026](?=\s)|\n\s*\n))\s*/; // up to an end mark and a space, or a paragraph end
  let buffer = "";

  // what a voice should say: \boxed{85} is "85", markup characters are not read out
  const speakable = (text) =>
    text.replace(/\\boxed\{([^{}]*)\}/g, "$1").replace(/[\\{}$*_#`]/g, " ").replace(/\s+/g, " ").trim();

  function say(text) {
    const words = speakable(text);
    if (words) window.speechSynthesis.speak(new SpeechSynthesisUtterance(words));
  }

  return {
    available,
    // more of the answer: speak each sentence it completes (all that is left when `final`)
    feed(text, final = false) {
      if (!available || !checkbox.checked) return;
      buffer += text;
      let match;
      while ((match = SENTENCE.exec(buffer))) {
        say(match[1]);
        buffer = buffer.slice(match[0].length);
      }
      if (final) {
        say(buffer);
        buffer = "";
      }
    },
    stop() {
      buffer = "";
      if (available) synth.cancel();
    },
  };
};
