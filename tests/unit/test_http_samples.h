/*
 * Sample webhook bodies in the shape Meta's webhook documentation gives,
 * byte for byte as the tests send them: no whitespace between tokens.
 * WA_TEXT_CAFE is the signature test vector: 498 bytes, non-ASCII escaped
 * as Meta sends it; WA_TEXT_CAFE_UTF8 is the same JSON re-encoded as raw
 * UTF-8, whose digest must differ.
 */
#ifndef TEST_HTTP_SAMPLES_H
#define TEST_HTTP_SAMPLES_H

#define WA_TEXT \
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1022901293" \
	"40398\",\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"meta" \
	"data\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"1" \
	"06540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"Sheena Nelson\"}" \
	",\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\",\"id\":" \
	"\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=\"" \
	",\"timestamp\":\"1749416383\",\"type\":\"text\",\"text\":{\"body\":\"Does it " \
	"come in another color?\"}}]},\"field\":\"messages\"}]}]}"

#define WA_STATUS_SENT \
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1022901293" \
	"40398\",\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"meta" \
	"data\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"1" \
	"06540352242922\"},\"statuses\":[{\"id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAg" \
	"ASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=\",\"status\":\"sent\",\"timestamp\":" \
	"\"1750030073\",\"recipient_id\":\"16505551234\",\"pricing\":{\"billable\":" \
	"true,\"pricing_model\":\"PMP\",\"type\":\"regular\",\"category\":\"service\"" \
	"}}]},\"field\":\"messages\"}]}]}"

#define WA_TEXT_CAFE \
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1022901293" \
	"40398\",\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"meta" \
	"data\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"1" \
	"06540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"Sheena Nelson\"}" \
	",\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\",\"id\":" \
	"\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=\"" \
	",\"timestamp\":\"1749416383\",\"type\":\"text\",\"text\":{\"body\":\"Caf\\u00e" \
	"9 \\u00e4\\u00f6\\u00e5?\"}}]},\"field\":\"messages\"}]}]}"

#define WA_TEXT_CAFE_UTF8 \
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1022901293" \
	"40398\",\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\",\"meta" \
	"data\":{\"display_phone_number\":\"15550783881\",\"phone_number_id\":\"1" \
	"06540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"Sheena Nelson\"}" \
	",\"wa_id\":\"16505551234\"}],\"messages\":[{\"from\":\"16505551234\",\"id\":" \
	"\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=\"" \
	",\"timestamp\":\"1749416383\",\"type\":\"text\",\"text\":{\"body\":\"Café äöå" \
	"?\"}}]},\"field\":\"messages\"}]}]}"

#define WA_TEXT_CAFE_SECRET "test_app_secret"
#define WA_TEXT_CAFE_SIG "sha256=5d914fc0c99b8760d0a5f43338eaaeee2f42e5277feb7f51b5863cbb97e38568"

#endif
