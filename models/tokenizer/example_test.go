package tokenizer_test

import (
	"fmt"
	"log"

	"github.com/nf4go/nf4/models/tokenizer"
)

// Encode and decode with a Llama 3-style tokenizer.json.
func Example() {
	tok, err := tokenizer.Load("testdata/llama3.json")
	if err != nil {
		log.Fatal(err)
	}
	ids := tok.Encode("<|start_header_id|>user<|end_header_id|>", true)
	fmt.Println(tok.Token(ids[0]), tok.Token(ids[1]), tok.IsSpecial(ids[1]))
	text, err := tok.Decode(tok.Encode("Hello,  world!\n", false), false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", text)
	// Output:
	// <|begin_of_text|> <|start_header_id|> true
	// "Hello,  world!\n"
}
