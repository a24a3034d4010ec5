shared::main!(city_attractions::function());
