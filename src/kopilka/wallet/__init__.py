"""The customer's card in Apple Wallet and Google Wallet (issue 19): ``common`` says what a card
shows; ``apple`` builds, serves and pushes the pass; ``google`` the Google Wallet object."""
