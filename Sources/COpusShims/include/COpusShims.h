#pragma once
#include <opus.h>

// opus_*_ctl are variadic; these are the requests avatard uses.
int avd_opus_decoder_reset(OpusDecoder *decoder);
int avd_opus_encoder_set_bitrate(OpusEncoder *encoder, opus_int32 bitrate);
int avd_opus_encoder_set_inband_fec(OpusEncoder *encoder, opus_int32 enabled);
int avd_opus_encoder_set_packet_loss_perc(OpusEncoder *encoder, opus_int32 percent);
int avd_opus_encoder_set_dtx(OpusEncoder *encoder, opus_int32 enabled);
int avd_opus_encoder_get_lookahead(OpusEncoder *encoder, opus_int32 *samples);
