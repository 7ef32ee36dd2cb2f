// Audio capture for the avatard page: hands the main thread 20 ms blocks of mono float samples (for the
// WebCodecs Opus encoder) and tells it at once when speech starts after a pause (for the latency figure).
class AvatardCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = Math.round(sampleRate / 50);   // 20 ms
    this.buffer = new Float32Array(this.block);
    this.filled = 0;
    this.quietQuanta = 0;
  }

  process(inputs) {
    const input = inputs[0];
    const n = 128;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      if (input && input.length) {
        for (let c = 0; c < input.length; c++) s += input[c][i] || 0;
        s /= input.length;
      }
      energy += s * s;
      this.buffer[this.filled++] = s;
      if (this.filled === this.block) {
        this.port.postMessage({ type: 'block', samples: this.buffer }, [this.buffer.buffer]);
        this.buffer = new Float32Array(this.block);
        this.filled = 0;
      }
    }
    const loud = Math.sqrt(energy / n) > 0.03;
    // Speech after at least 300 ms of quiet: the moment the page has the first loud samples.
    if (loud && this.quietQuanta * 128 >= 0.3 * sampleRate) this.port.postMessage({ type: 'onset' });
    this.quietQuanta = loud ? 0 : this.quietQuanta + 1;
    return true;
  }
}
registerProcessor('avatard-capture', AvatardCapture);
