/**
 * The most common passwords of eight or more characters, from public breach-frequency lists
 * (SecLists' top lists, the NCSC "100k most common", Have I Been Pwned's most seen). Shorter
 * ones are already refused by the length rule. Compared lower-cased; keep entries lower-case.
 */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(
  `
12345678 123456789 1234567890 12345678910 123123123 password password1 password12 password123
password1234 passw0rd p@ssw0rd p@ssword pa$$word pa55word pa55w0rd passwort passwort1 motdepasse
qwertyuiop qwerty123 qwerty1234 qwerty12345 qwertyui qwertyuio 1qaz2wsx 1q2w3e4r 1q2w3e4r5t
1q2w3e4r5t6y zaq12wsx zaq1zaq1 zaq1xsw2 qazwsxedc qazwsx123 asdfghjkl asdfghjk asdf1234
zxcvbnm1 zxcvbnm123 iloveyou iloveyou1 iloveyou2 iloveyou! sunshine sunshine1 princess
princess1 football football1 baseball baseball1 basketball superman superman1 batman123
starwars starwars1 trustno1 letmein1 letmein123 welcome1 welcome123 welcome2024 welcome2025
welcome2026 changeme changeme1 changeme123 administrator admin123 admin1234 adminadmin
master123 masterkey whatever whatever1 michael1 jennifer jessica1 charlie1 computer computer1
internet midnight mustang1 jordan23 liverpool chelsea1 arsenal1 manchester football12
butterfly chocolate chocolate1 cookie123 elephant firebird hello123 hello1234 helloworld
hellokitty lovely123 loveyou1 lovelove monkey123 dragon123 shadow123 freedom1 flower123
blink182 11111111 111111111 1111111111 00000000 000000000 0000000000 12121212 123321123
11223344 112233445566 12344321 87654321 987654321 9876543210 147258369 159753123 159357456
741852963 789456123 123456789a 123456789q a1234567 a12345678 a123456789 abc12345 abcd1234
abcdefgh abcdefg1 abc123456 aa123456 aaaaaaaa aaaaaaaaa asdasdasd qweqweqwe qwe123456
qwerty123456 q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 1qazxsw2 zxcvbnm123456 1234qwer 12qwaszx
asd123456 password! password2 password3 password01 passpass secret123 secret1234 security
samsung1 samsung123 google123 facebook1 linkedin1 myspace1 youtube1 minecraft minecraft1
pokemon1 pokemon123 naruto123 spiderman batman1234 superstar superman123 rockstar
newyork1 jesus123 jesuschrist blessed1 angel123 babygirl1 sweetheart sweetie1 daniel123
michelle jennifer1 nicholas alexander alexandra victoria 1234abcd 123abc123 123qweasd
123qweasdzxc qweasdzxc qweasd123 asdfasdf asdfghjkl1 zxcvbnmasdfghjkl qwertyuiop123
11112222 12341234 123412341234 5555555555 88888888 99999999 66666666 77777777 22222222
33333333 44444444 55555555 12312312 456456456 654321654321 098765432 0987654321 1qaz!qaz
gatehouse gatehouse1 letmeinplease dragonball 1password onepassword default1 temp1234
temporary test1234 test12345 testtest testing123 guest123 user1234 login123 summer2024
summer2025 summer2026 winter2024 winter2025 winter2026 spring2025 autumn2025 january1
december1 qwerty2024 qwerty2025 qwerty2026 password2024 password2025 password2026
`
    .split(/\s+/)
    .filter(Boolean),
);
