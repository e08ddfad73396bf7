interface ISemicolon10 { void f() }
