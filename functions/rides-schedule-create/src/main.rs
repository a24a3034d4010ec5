shared::main!(rides_schedule_create::function());
