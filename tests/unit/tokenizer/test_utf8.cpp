#include <gtest/gtest.h>

#include "model/tokenizer/utf8.h"

namespace principia::tokenizer {
namespace {

TEST(TokenizerUtf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("héllo 中文 🚀"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe4\xb8"));          // truncated
  EXPECT_EQ(replace_invalid_utf8("a\xffz"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(replace_invalid_utf8("\xe4\xb8"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TokenizerUtf8, NfcComposesAndKeepsInvalidBytes) {
  EXPECT_EQ(nfc("e\xCC\x81"), "\xC3\xA9");  // e + combining acute -> é
  EXPECT_EQ(nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(nfc("e\xCC\x81\xff"
                "e\xCC\x81"),
            "\xC3\xA9\xff\xC3\xA9");
}

}  // namespace
}  // namespace principia::tokenizer
