package store

// ListPage is listPage, for the tests of package store_test.
const ListPage = listPage
